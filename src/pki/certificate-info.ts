import { decodePem } from "./pem.ts";
import { x509 } from "./x509.ts";

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
export function parseCertificate(pem: string): x509.X509Certificate {
  const der = decodePem(pem, "CERTIFICATE");
  try {
    return new x509.X509Certificate(der);
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

export function describeCertificate(pem: string | x509.X509Certificate): CertificateInfo {
  if (typeof pem !== "string") return describe(pem);
  let info = described.get(pem);
  if (!info) {
    info = describe(parseCertificate(pem));
    if (described.size >= describedLimit) described.delete(described.keys().next().value!);
    described.set(pem, info);
  }
  return info;
}

function describe(cert: x509.X509Certificate): CertificateInfo {
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  return Object.freeze({
    subject: cert.subject,
    commonName: cert.subjectName.getField("CN")[0] ?? "",
    organization: Object.freeze(cert.subjectName.getField("O")),
    issuer: cert.issuer,
    sans: Object.freeze(san ? san.names.items.map((n) => n.value) : []),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCA: basic?.ca ?? false,
    serialNumber: cert.serialNumber,
    publicKeyAlgorithm: cert.publicKey.algorithm.name,
    extendedKeyUsages: Object.freeze(eku ? eku.usages.map(String) : []),
  });
}
