// The one place that loads @peculiar/x509: it needs a Reflect metadata polyfill loaded before it
// and a WebCrypto provider. Only certificate writing needs it (reading uses Node's
// X509Certificate), and it is a large module graph: writers import this module dynamically, so a
// process that never issues a certificate never loads it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** The subject of an issued certificate: the Organization values (roles) first, then the CN. */
export function subjectName(commonName: string, organization: readonly string[] = []): x509.Name {
  return new x509.Name([
    ...(organization.length > 0 ? [{ O: [...organization] }] : []),
    { CN: [commonName] },
  ]);
}
