import { parseIp } from "../config/net/ip.ts";
import {
  type CertificateAndKey,
  checkName,
  checkValidity,
  clockSkewAllowance,
  leafValidity,
  randomSerialNumber,
} from "./certificate-and-key.ts";
import { parseCertificate } from "./certificate-info.ts";
import {
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  type KeyAlgorithm,
  signingAlgorithm,
} from "./keys.ts";

/** server: TLS server auth; client: TLS client auth; peer: both (etcd peers, node-to-node). */
export type CertUsage = "server" | "client" | "peer";

export const certUsages: readonly CertUsage[] = ["server", "client", "peer"];

/** id-kp-serverAuth and id-kp-clientAuth (RFC 5280). */
const serverAuth = "1.3.6.1.5.5.7.3.1";
const clientAuth = "1.3.6.1.5.5.7.3.2";

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
  server: [serverAuth],
  client: [clientAuth],
  peer: [serverAuth, clientAuth],
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
  // Checked with Node's reader first: a bad CA fails before the X.509 library loads.
  parseCertificate(options.ca.crt);
  const { x509, subjectName } = await import("./x509.ts");
  const caCert = new x509.X509Certificate(options.ca.crt);
  if (!caCert.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new TypeError(`Cannot issue certificate: 'ca.crt' (${caCert.subject}) is not a CA certificate`);
  }
  const caKey = await importPrivateKeyPem(options.ca.key);
  const now = options.now ?? new Date();
  const notAfter = Math.min(now.getTime() + validity, caCert.notAfter.getTime());
  const keys = await generateKeyPair(options.algorithm ?? "Ed25519");
  const sans = options.sans ?? [];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: subjectName(options.subject, options.organization),
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - clockSkewAllowance),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caKey.key,
    signingAlgorithm: signingAlgorithm(caKey.algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([...extendedKeyUsages[options.usage]]),
      ...(sans.length > 0
        ? [
            new x509.SubjectAlternativeNameExtension(
              sans.map((value) => ({ type: parseIp(value) ? ("ip" as const) : ("dns" as const), value })),
            ),
          ]
        : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  if (!(await cert.verify({ publicKey: caCert, signatureOnly: true }))) {
    throw new TypeError("Cannot issue certificate: 'ca.key' does not belong to 'ca.crt'");
  }
  return { crt: cert.toString("pem"), key: await exportPrivateKeyPem(keys.privateKey) };
}
