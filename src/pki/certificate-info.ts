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

export function describeCertificate(pem: string | x509.X509Certificate): CertificateInfo {
  const cert = typeof pem === "string" ? parseCertificate(pem) : pem;
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    subject: cert.subject,
    commonName: cert.subjectName.getField("CN")[0] ?? "",
    organization: cert.subjectName.getField("O"),
    issuer: cert.issuer,
    sans: san ? san.names.items.map((n) => n.value) : [],
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCA: basic?.ca ?? false,
    serialNumber: cert.serialNumber,
    publicKeyAlgorithm: cert.publicKey.algorithm.name,
    extendedKeyUsages: eku ? eku.usages.map(String) : [],
  };
}
