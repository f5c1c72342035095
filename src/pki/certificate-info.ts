import { X509Certificate } from "node:crypto";
import { formatIp, parseIp } from "../config/net/ip.ts";
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
  const subject = parseDistinguishedName(cert.subject);
  const values = (type: string) => subject.flat().flatMap((a) => (a.type === type ? [a.value] : []));
  const keyType = cert.publicKey.asymmetricKeyType ?? "unknown";
  return Object.freeze({
    subject: formatName(subject),
    commonName: values("CN")[0] ?? "",
    organization: Object.freeze(values("O")),
    issuer: formatName(parseDistinguishedName(cert.issuer)),
    sans: Object.freeze(parseSubjectAltNames(cert.subjectAltName)),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    isCA: cert.ca,
    serialNumber: cert.serialNumber.toLowerCase(),
    publicKeyAlgorithm: keyAlgorithmNames[keyType] ?? keyType,
    // Node calls the extended key usages "keyUsage".
    extendedKeyUsages: Object.freeze([...(cert.keyUsage ?? [])]),
  });
}

interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

/**
 * Node's text form of a name: one relative name per line, its attributes joined by " + ",
 * `type=value` with RFC 4514 backslash escapes in the value.
 */
function parseDistinguishedName(text: string): NameAttribute[][] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) =>
      splitUnescaped(line, " + ").map((attribute) => {
        const [type = "", ...rest] = splitUnescaped(attribute, "=");
        return { type, value: unescapeValue(rest.join("=")) };
      }),
    );
}

/** `a=b, c=d+e=f` with the characters RFC 4514 reserves escaped. */
function formatName(rdns: readonly (readonly NameAttribute[])[]): string {
  return rdns
    .map((rdn) => rdn.map((a) => `${a.type}=${a.value.replace(/[,+"\\<>;=]/g, "\\$&")}`).join("+"))
    .join(", ");
}

/**
 * Node's text form of the SubjectAltName extension: `DNS:name, IP Address:addr`, a value quoted
 * as a JSON string when it holds special characters. IP addresses come back in canonical form.
 */
function parseSubjectAltNames(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const entry of splitUnescaped(text, ", ")) {
    const colon = entry.indexOf(":");
    const kind = entry.slice(0, colon);
    const raw = entry.slice(colon + 1);
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === "DNS") out.push(value);
    else if (kind === "IP Address") {
      const ip = parseIp(value);
      out.push(ip ? formatIp(ip) : value);
    }
  }
  return out;
}

/** Splits at `separator` where it is neither escaped by a backslash nor inside a JSON string. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
      i += separator.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, "$1");
}
