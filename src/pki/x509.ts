// The one place that loads @peculiar/x509: it needs a Reflect metadata polyfill loaded before it
// and a WebCrypto provider. Everything else in Plinth imports `x509` from here.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
