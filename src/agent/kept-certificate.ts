import { createHash, X509Certificate } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import type { CertificateAndKey } from "../pki/index.ts";

/** What a kept certificate was issued for; a different want issues a new one. */
export interface CertificateWant {
  /** The CA (PEM) that signs it. */
  readonly ca: string;
  readonly subject: string;
  readonly organization: readonly string[];
  readonly sans: readonly string[];
}

/** A kept certificate is issued again this long before it expires. */
export const renewBeforeMs = 30 * 24 * 60 * 60 * 1000;

interface KeptFile {
  readonly want: string;
  readonly crt: string;
  readonly key: string;
}

function fingerprint(want: CertificateWant): string {
  return createHash("sha256")
    .update(JSON.stringify([want.ca, want.subject, want.organization, [...want.sans].sort()]))
    .digest("hex");
}

/**
 * The certificate kept in `file` when it was issued for the same CA, names and SANs and is not
 * about to expire; otherwise a new one from `issue`, kept for next time. A machine that issues
 * its own API certificate thus issues it once, not at every start (issuing needs an X.509
 * writer that is a large part of the agent's start-up otherwise).
 */
export async function keptOrIssued(
  file: string,
  want: CertificateWant,
  issue: () => Promise<CertificateAndKey>,
  now: Date = new Date(),
): Promise<CertificateAndKey> {
  const id = fingerprint(want);
  const kept = await readFile(file, "utf8")
    .then((text) => JSON.parse(text) as KeptFile)
    .catch(() => undefined);
  if (kept?.want === id && typeof kept.crt === "string" && typeof kept.key === "string") {
    try {
      const cert = new X509Certificate(kept.crt);
      if (cert.validToDate.getTime() - now.getTime() > renewBeforeMs && cert.validFromDate <= now) {
        return { crt: kept.crt, key: kept.key };
      }
    } catch {
      // Unreadable: issue a new one.
    }
  }
  const issued = await issue();
  const next = `${file}.${process.pid}`;
  // Holds a private key: owner only.
  await writeFile(next, JSON.stringify({ want: id, crt: issued.crt, key: issued.key }), { mode: 0o600 });
  await rename(next, file);
  return issued;
}
