import {
  type CertificateAndKey,
  caValidity,
  checkName,
  checkValidity,
  clockSkewAllowance,
  randomSerialNumber,
} from "./certificate-and-key.ts";
import { exportPrivateKeyPem, generateKeyPair, type KeyAlgorithm, signingAlgorithm } from "./keys.ts";

export interface CreateCAOptions {
  readonly commonName: string;
  readonly organization?: readonly string[];
  /** Lifetime in ms; 10 years unless given. */
  readonly validity?: number;
  readonly algorithm?: KeyAlgorithm;
  /** The issue time; now unless given (tests). */
  readonly now?: Date;
}

/** A self-signed certificate authority with a fresh key pair. */
export async function createCA(options: CreateCAOptions): Promise<CertificateAndKey> {
  checkName("create CA", "commonName", options.commonName);
  const validity = checkValidity("create CA", options.validity ?? caValidity);
  const algorithm = options.algorithm ?? "Ed25519";
  const now = options.now ?? new Date();
  const { x509, subjectName } = await import("./x509.ts");
  const keys = await generateKeyPair(algorithm);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: subjectName(options.commonName, options.organization),
    notBefore: new Date(now.getTime() - clockSkewAllowance),
    notAfter: new Date(now.getTime() + validity),
    keys,
    signingAlgorithm: signingAlgorithm(algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { crt: cert.toString("pem"), key: await exportPrivateKeyPem(keys.privateKey) };
}
