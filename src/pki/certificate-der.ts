import { createHash, type webcrypto } from "node:crypto";
import { formatIp, parseIp } from "../config/net/ip.ts";
import {
  derBitString,
  derBoolean,
  derChildren,
  derContent,
  derDirectoryString,
  derExplicit,
  derImplicit,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derTime,
  derUnsignedInteger,
  derWhole,
  readDer,
  readOid,
} from "./der.ts";
import type { KeyAlgorithm } from "./keys.ts";

// X.509 v3 certificates as Plinth issues them (RFC 5280), written and read with the DER helpers.

export const oids = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extendedKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ed25519: "1.3.101.112",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
} as const;

/** Short names of the attributes a certificate name is printed with. */
const attributeNames: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
};

/** A name as Plinth writes it: the Organization values (roles) in one RDN first, then the CN. */
export function encodeName(commonName: string, organization: readonly string[] = []): Uint8Array {
  const atv = (oid: string, value: string) => derSequence(derOid(oid), derDirectoryString(value));
  return derSequence(
    ...(organization.length > 0 ? [derSet(...organization.map((o) => atv(oids.organization, o)))] : []),
    derSet(atv(oids.commonName, commonName)),
  );
}

export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The DER of the extension's value (what goes inside its OCTET STRING). */
  readonly value: Uint8Array;
}

/** KeyUsage bits (RFC 5280 §4.2.1.3), bit 0 first. */
export const keyUsageBits = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export function keyUsageExtension(bits: readonly number[]): CertificateExtension {
  let byte = 0;
  for (const b of bits) byte |= 0x80 >> b;
  const unused = 7 - Math.max(...bits);
  return {
    oid: oids.keyUsage,
    critical: true,
    value: derBitString(Uint8Array.of(byte), unused),
  };
}

export function basicConstraintsExtension(ca: boolean): CertificateExtension {
  return {
    oid: oids.basicConstraints,
    critical: true,
    value: ca ? derSequence(derBoolean(true)) : derSequence(),
  };
}

export function extendedKeyUsageExtension(usages: readonly string[]): CertificateExtension {
  return { oid: oids.extendedKeyUsage, critical: false, value: derSequence(...usages.map(derOid)) };
}

/** IP addresses become iPAddress entries, everything else dNSName. */
export function subjectAltNameExtension(sans: readonly string[]): CertificateExtension {
  const names = sans.map((s) => {
    const ip = parseIp(s);
    return ip ? derImplicit(7, ip.bytes) : derImplicit(2, new TextEncoder().encode(s));
  });
  return { oid: oids.subjectAltName, critical: false, value: derSequence(...names) };
}

/** The key identifier of a public key: SHA-1 of its key bits (RFC 5280 §4.2.1.2, method 1). */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const top = derChildren(spki, readDer(spki));
  const bits = derContent(spki, top[1]!).subarray(1);
  return new Uint8Array(createHash("sha1").update(bits).digest());
}

export function subjectKeyIdentifierExtension(keyId: Uint8Array): CertificateExtension {
  return { oid: oids.subjectKeyIdentifier, critical: false, value: derOctetString(keyId) };
}

export function authorityKeyIdentifierExtension(keyId: Uint8Array): CertificateExtension {
  return { oid: oids.authorityKeyIdentifier, critical: false, value: derSequence(derImplicit(0, keyId)) };
}

export interface CertificateFields {
  /** Hex, positive. */
  readonly serialNumber: string;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER of the certificate's key. */
  readonly publicKey: Uint8Array;
  readonly extensions: readonly CertificateExtension[];
  readonly signingKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: KeyAlgorithm;
}

/** Writes and signs a certificate; returns its DER. */
export async function buildCertificate(f: CertificateFields): Promise<Uint8Array> {
  const algorithm = derSequence(
    derOid(f.signingAlgorithm === "Ed25519" ? oids.ed25519 : oids.ecdsaWithSha256),
  );
  const serial = Uint8Array.from(f.serialNumber.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  const extensions = f.extensions.map((e) =>
    derSequence(derOid(e.oid), ...(e.critical ? [derBoolean(true)] : []), derOctetString(e.value)),
  );
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    derUnsignedInteger(serial),
    algorithm,
    f.issuer,
    derSequence(derTime(f.notBefore), derTime(f.notAfter)),
    f.subject,
    f.publicKey,
    derExplicit(3, derSequence(...extensions)),
  );
  const signature = new Uint8Array(
    await globalThis.crypto.subtle.sign(
      f.signingAlgorithm === "Ed25519" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" },
      f.signingKey,
      tbs,
    ),
  );
  // WebCrypto gives ECDSA signatures as r || s; X.509 carries them as a DER SEQUENCE of both.
  const encoded =
    f.signingAlgorithm === "Ed25519"
      ? signature
      : derSequence(
          derUnsignedInteger(signature.subarray(0, 32)),
          derUnsignedInteger(signature.subarray(32)),
        );
  return derSequence(tbs, algorithm, derBitString(encoded));
}

/** The parts of a certificate's DER that Node's X509Certificate does not give as structures. */
export interface CertificateStructure {
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly extensions: ReadonlyMap<string, Uint8Array>;
}

/** Splits a certificate's DER into its fields; throws a TypeError when it is not a certificate. */
export function readCertificate(der: Uint8Array): CertificateStructure {
  const cert = readDer(der);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new TypeError("not a DER certificate");
  const tbs = derChildren(der, derChildren(der, cert)[0]!);
  // The version field is optional (v1 certificates omit it).
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  const [, , issuer, , subject, publicKey] = fields;
  if (!issuer || !subject || !publicKey) throw new TypeError("not a DER certificate");
  const extensions = new Map<string, Uint8Array>();
  const extField = fields.find((n) => n.tag === 0xa3);
  if (extField) {
    for (const ext of derChildren(der, derChildren(der, extField)[0]!)) {
      const parts = derChildren(der, ext);
      extensions.set(readOid(der, parts[0]!), derContent(der, parts[parts.length - 1]!));
    }
  }
  return {
    issuer: derWhole(der, issuer),
    subject: derWhole(der, subject),
    publicKey: derWhole(der, publicKey),
    extensions,
  };
}

export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

/** A name's relative distinguished names, in the order the certificate lists them. */
export function readName(name: Uint8Array): NameAttribute[][] {
  const rdns: NameAttribute[][] = [];
  for (const rdn of derChildren(name, readDer(name))) {
    rdns.push(
      derChildren(name, rdn).map((atv) => {
        const [type, value] = derChildren(name, atv);
        const oid = readOid(name, type!);
        return {
          type: attributeNames[oid] ?? oid,
          value: new TextDecoder().decode(derContent(name, value!)),
        };
      }),
    );
  }
  return rdns;
}

const specials = /[,+"\\<>;]/g;

/** "O=os:admin+O=os:reader, CN=admin": the name's RDNs in certificate order. */
export function formatName(rdns: readonly (readonly NameAttribute[])[]): string {
  return rdns
    .map((rdn) => rdn.map((a) => `${a.type}=${a.value.replace(specials, "\\$&")}`).join("+"))
    .join(", ");
}

/** The DNS names and IP addresses of a SubjectAltName extension value, in order. */
export function readSubjectAltNames(value: Uint8Array): string[] {
  const out: string[] = [];
  for (const n of derChildren(value, readDer(value))) {
    const content = derContent(value, n);
    if (n.tag === 0x82) out.push(new TextDecoder().decode(content));
    else if (n.tag === 0x87 && (content.length === 4 || content.length === 16)) {
      out.push(formatIp({ family: content.length === 4 ? 4 : 6, bytes: content }));
    }
  }
  return out;
}

/** The key identifier inside a SubjectKeyIdentifier extension value. */
export function readKeyIdentifier(value: Uint8Array): Uint8Array {
  return derContent(value, readDer(value));
}
