import {
  type CertificateAndKey,
  caValidity,
  checkName,
  checkValidity,
  clockSkewAllowance,
  randomSerialNumber,
} from "./certificate-and-key.ts";
import {
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  keyIdentifier,
  keyUsageBits,
  keyUsageExtension,
  subjectKeyIdentifierExtension,
} from "./certificate-der.ts";
import { exportPrivateKeyPem, exportPublicKeyDer, generateKeyPair, type KeyAlgorithm } from "./keys.ts";
import { encodePem } from "./pem.ts";

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
  const keys = await generateKeyPair(algorithm);
  const publicKey = await exportPublicKeyDer(keys.publicKey);
  const name = encodeName(options.commonName, options.organization);
  const der = await buildCertificate({
    serialNumber: randomSerialNumber(),
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - clockSkewAllowance),
    notAfter: new Date(now.getTime() + validity),
    publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: algorithm,
    extensions: [
      basicConstraintsExtension(true),
      keyUsageExtension([keyUsageBits.keyCertSign, keyUsageBits.cRLSign, keyUsageBits.digitalSignature]),
      subjectKeyIdentifierExtension(keyIdentifier(publicKey)),
    ],
  });
  return { crt: encodePem("CERTIFICATE", der), key: await exportPrivateKeyPem(keys.privateKey) };
}
