import type { X509Certificate } from "node:crypto";
import { type CertificateInfo, describeCertificate, parseCertificate } from "./certificate-info.ts";
import { type CertUsage, extendedKeyUsages } from "./issue-cert.ts";

export interface VerifyCertificateOptions {
  /** PEM of the CA that must have signed the certificate. */
  readonly ca: string;
  /** The time to check the lifetimes against; now unless given. */
  readonly now?: Date;
  /** When given, the certificate's extended key usage must allow it. */
  readonly usage?: CertUsage;
}

export type VerifyCertificateResult =
  | { readonly valid: true; readonly certificate: CertificateInfo; readonly roles: readonly string[] }
  | { readonly valid: false; readonly reason: string };

function fail(reason: string): VerifyCertificateResult {
  return { valid: false, reason };
}

/**
 * Checks that `crt` was signed by `ca`, that both are within their lifetimes and that the CA is a
 * CA; returns the roles (the certificate's Organization) on success, the first failure otherwise.
 */
export async function verifyCertificate(
  crt: string,
  options: VerifyCertificateOptions,
): Promise<VerifyCertificateResult> {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = parseCertificate(crt);
    ca = parseCertificate(options.ca);
  } catch (err) {
    return fail((err as Error).message);
  }
  const now = options.now ?? new Date();
  const caInfo = describeCertificate(ca);
  const info = describeCertificate(cert);
  if (!caInfo.isCA) return fail(`${caInfo.subject} is not a CA certificate`);
  if (now < caInfo.notBefore || now > caInfo.notAfter) {
    return fail(`CA ${caInfo.subject} is not valid at ${now.toISOString()}`);
  }
  if (info.issuer !== caInfo.subject) return fail(`issued by ${info.issuer}, not by ${caInfo.subject}`);
  if (!cert.verify(ca.publicKey)) {
    return fail(`the signature of ${info.subject} does not verify with the key of ${caInfo.subject}`);
  }
  if (now < info.notBefore)
    return fail(`${info.subject} is not valid before ${info.notBefore.toISOString()}`);
  if (now > info.notAfter) return fail(`${info.subject} expired at ${info.notAfter.toISOString()}`);
  if (options.usage) {
    const missing = extendedKeyUsages[options.usage].filter((u) => !info.extendedKeyUsages.includes(u));
    if (missing.length > 0) return fail(`${info.subject} is not valid for ${options.usage} use`);
  }
  return { valid: true, certificate: info, roles: info.organization };
}
