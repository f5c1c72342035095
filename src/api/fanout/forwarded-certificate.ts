import { X509Certificate } from "node:crypto";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { Role } from "../../pki/roles.ts";
import { isRole, rolesFromOrganizations } from "../../pki/roles.ts";

/**
 * The request header in which a node passes on the caller's client certificate (base64 DER) when
 * it forwards a fanned-out call. The receiving node trusts it only from a peer whose own TLS
 * certificate is a node certificate (`os:impersonator`) of the same CA, and verifies the
 * forwarded certificate itself: CA signature, validity period, roles. See docs/api.md.
 */
export const forwardedCertificateHeader = "plinth-forwarded-certificate";

export interface VerifiedCertificate {
  readonly subject: string;
  readonly roles: readonly Role[];
  readonly der: Uint8Array;
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle. */
export function parseCertificates(pem: string | readonly string[]): X509Certificate[] {
  const text = typeof pem === "string" ? pem : pem.join("\n");
  return (text.match(pemBlock) ?? []).map((block) => new X509Certificate(block));
}

/** Subject attribute values as Node prints them ("O=os:admin\nCN=admin"). */
export function subjectValues(subject: string, attribute: string): string[] {
  const prefix = `${attribute}=`;
  return subject
    .split("\n")
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length));
}

export function encodeForwardedCertificate(der: Uint8Array): string {
  return Buffer.from(der).toString("base64");
}

/**
 * Checks a forwarded caller certificate as the TLS stack checks a direct one: issued and signed
 * by one of the CAs, within its validity period. Its roles are read here, on the receiving node;
 * `os:impersonator` is dropped, so a forwarded call can never be forwarded again.
 */
export function verifyForwardedCertificate(
  value: string,
  cas: readonly X509Certificate[],
  now = new Date(),
): VerifiedCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(value, "base64"));
  } catch (err) {
    throw new PlinthError("unauthenticated", `the forwarded caller certificate cannot be parsed`, {
      cause: err,
    });
  }
  const subject = subjectValues(cert.subject, "CN")[0] ?? "";
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    throw new PlinthError(
      "unauthenticated",
      `the forwarded caller certificate CN=${subject} is not signed by the API CA`,
    );
  }
  if (now < cert.validFromDate || now > cert.validToDate) {
    throw new PlinthError(
      "unauthenticated",
      `the forwarded caller certificate CN=${subject} is not valid now (valid ${cert.validFromDate.toISOString()} to ${cert.validToDate.toISOString()})`,
    );
  }
  // Client roles only: the forwarded certificate's os:impersonator is dropped.
  const roles = rolesFromOrganizations(subjectValues(cert.subject, "O")).filter(isRole);
  return { subject, roles, der: new Uint8Array(cert.raw) };
}
