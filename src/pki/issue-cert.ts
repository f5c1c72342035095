import { X509Certificate } from "node:crypto";
import {
  type CertificateAndKey,
  checkName,
  checkValidity,
  clockSkewAllowance,
  leafValidity,
  randomSerialNumber,
} from "./certificate-and-key.ts";
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  extendedKeyUsageExtension,
  keyIdentifier,
  keyUsageBits,
  keyUsageExtension,
  oids,
  readCertificate,
  readKeyIdentifier,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
} from "./certificate-der.ts";
import { describeCertificate, parseCertificate } from "./certificate-info.ts";
import {
  exportPrivateKeyPem,
  exportPublicKeyDer,
  generateKeyPair,
  importPrivateKeyPem,
  type KeyAlgorithm,
} from "./keys.ts";
import { encodePem } from "./pem.ts";

/** server: TLS server auth; client: TLS client auth; peer: both (etcd peers, node-to-node). */
export type CertUsage = "server" | "client" | "peer";

export const certUsages: readonly CertUsage[] = ["server", "client", "peer"];

export interface IssueCertOptions {
  readonly ca: CertificateAndKey;
  /** The subject's common name. */
  readonly subject: string;
  /** Organization entries; for client certificates these are the roles (`os:admin`, …). */
  readonly organization?: readonly string[];
  /** Subject alternative names: IP addresses become IP SANs, everything else DNS names. */
  readonly sans?: readonly string[];
  readonly usage: CertUsage;
  /** Lifetime in ms; 1 year unless given. Never outlives the CA. */
  readonly validity?: number;
  readonly algorithm?: KeyAlgorithm;
  readonly now?: Date;
}

/** The extended key usages a certificate of each usage carries, and that verifying for it requires. */
export const extendedKeyUsages: Readonly<Record<CertUsage, readonly string[]>> = {
  server: [oids.serverAuth],
  client: [oids.clientAuth],
  peer: [oids.serverAuth, oids.clientAuth],
};

/** Issues a leaf certificate with a fresh key pair, signed by `ca`. */
export async function issueCert(options: IssueCertOptions): Promise<CertificateAndKey> {
  checkName("issue certificate", "subject", options.subject);
  if (!certUsages.includes(options.usage)) {
    throw new TypeError(
      `Cannot issue certificate: 'usage' must be one of ${certUsages.join(", ")}, current value is ${JSON.stringify(options.usage)}`,
    );
  }
  const validity = checkValidity("issue certificate", options.validity ?? leafValidity);
  const caCert = parseCertificate(options.ca.crt);
  if (!caCert.ca) {
    throw new TypeError(
      `Cannot issue certificate: 'ca.crt' (${describeCertificate(caCert).subject}) is not a CA certificate`,
    );
  }
  const ca = readCertificate(new Uint8Array(caCert.raw));
  const caSki = ca.extensions.get(oids.subjectKeyIdentifier);
  const caKeyId = caSki ? readKeyIdentifier(caSki) : keyIdentifier(ca.publicKey);
  const caKey = await importPrivateKeyPem(options.ca.key);
  const now = options.now ?? new Date();
  const notAfter = Math.min(now.getTime() + validity, caCert.validToDate.getTime());
  const keys = await generateKeyPair(options.algorithm ?? "Ed25519");
  const publicKey = await exportPublicKeyDer(keys.publicKey);
  const sans = options.sans ?? [];
  const der = await buildCertificate({
    serialNumber: randomSerialNumber(),
    subject: encodeName(options.subject, options.organization),
    issuer: ca.subject,
    notBefore: new Date(now.getTime() - clockSkewAllowance),
    notAfter: new Date(notAfter),
    publicKey,
    signingKey: caKey.key,
    signingAlgorithm: caKey.algorithm,
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([keyUsageBits.digitalSignature]),
      extendedKeyUsageExtension(extendedKeyUsages[options.usage]),
      ...(sans.length > 0 ? [subjectAltNameExtension(sans)] : []),
      subjectKeyIdentifierExtension(keyIdentifier(publicKey)),
      authorityKeyIdentifierExtension(caKeyId),
    ],
  });
  if (!new X509Certificate(der).verify(caCert.publicKey)) {
    throw new TypeError("Cannot issue certificate: 'ca.key' does not belong to 'ca.crt'");
  }
  return { crt: encodePem("CERTIFICATE", der), key: await exportPrivateKeyPem(keys.privateKey) };
}
