import { X509Certificate } from "node:crypto";
import { formatName, readCertificate, readName, readSubjectAltNames } from "./certificate-der.ts";
import { decodePem } from "./pem.ts";

/** What Plinth reads from a certificate: names, roles, SANs, lifetime, CA flag. */
export interface CertificateInfo {
  readonly subject: string;
  readonly commonName: string;
  readonly organization: readonly string[];
  readonly issuer: string;
  readonly sans: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCA: boolean;
  readonly serialNumber: string;
  readonly publicKeyAlgorithm: string;
  readonly extendedKeyUsages: readonly string[];
}

/** Parses one PEM certificate; throws a TypeError when the text is not one. */
export function parseCertificate(pem: string): X509Certificate {
  const der = decodePem(pem, "CERTIFICATE");
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new TypeError(
      "Cannot parse certificate: the DER inside the PEM block is not an X.509 certificate",
      {
        cause: err,
      },
    );
  }
}

/**
 * Every config validation reads the same few certificates again; ASN.1 parsing is the costly
 * part, so the description of a PEM text is kept (a bounded number of them).
 */
const described = new Map<string, CertificateInfo>();
const describedLimit = 64;

export function describeCertificate(pem: string | X509Certificate): CertificateInfo {
  if (typeof pem !== "string") return describe(pem);
  let info = described.get(pem);
  if (!info) {
    info = describe(parseCertificate(pem));
    if (described.size >= describedLimit) described.delete(described.keys().next().value!);
    described.set(pem, info);
  }
  return info;
}

/** Node's key types by the names Plinth reports (those of WebCrypto). */
const keyAlgorithmNames: Record<string, string> = { ed25519: "Ed25519", ec: "ECDSA", rsa: "RSA" };

function describe(cert: X509Certificate): CertificateInfo {
  const structure = readCertificate(new Uint8Array(cert.raw));
  const subject = readName(structure.subject);
  const values = (type: string) => subject.flat().flatMap((a) => (a.type === type ? [a.value] : []));
  const san = structure.extensions.get("2.5.29.17");
  const keyType = cert.publicKey.asymmetricKeyType ?? "unknown";
  return Object.freeze({
    subject: formatName(subject),
    commonName: values("CN")[0] ?? "",
    organization: Object.freeze(values("O")),
    issuer: formatName(readName(structure.issuer)),
    sans: Object.freeze(san ? readSubjectAltNames(san) : []),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    isCA: cert.ca,
    serialNumber: cert.serialNumber.toLowerCase(),
    publicKeyAlgorithm: keyAlgorithmNames[keyType] ?? keyType,
    // Node calls the extended key usages "keyUsage".
    extendedKeyUsages: Object.freeze([...(cert.keyUsage ?? [])]),
  });
}
