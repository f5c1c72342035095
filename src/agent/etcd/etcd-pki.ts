import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { describeCertificate, issueCert } from "../../pki/index.ts";
import { etcdPkiFiles } from "./etcd-args.ts";
import type { EtcdRootSecretContent, EtcdSpecContent } from "./etcd-spec.ts";

/** A certificate that expires sooner than this is issued again. */
const renewBeforeMs = 30 * 24 * 3600 * 1000;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/**
 * Writes the etcd CA certificate and the member's certificate and key into the spec's pkiDir
 * (directory 0700, files 0600). The member certificate serves both etcd's clients and its peers
 * (server and client usage) for the member's address, localhost and the hostname. It is issued
 * again when the CA, the names or the address change, or when it nears expiry. Returns whether
 * anything was written (etcd must restart to read new files).
 */
export async function ensureEtcdPki(
  spec: EtcdSpecContent,
  ca: EtcdRootSecretContent,
  options: { hostname: string; now?: Date },
): Promise<boolean> {
  const files = etcdPkiFiles(spec.pkiDir);
  const sans = [...new Set([spec.address, "127.0.0.1", "::1", "localhost", options.hostname])];
  const stamp = createHash("sha256")
    .update(JSON.stringify([ca.crt, spec.name, sans]))
    .digest("hex");
  const stampFile = `${files.cert}.stamp`;
  const [caText, certText, keyText, stampText] = await Promise.all(
    [files.ca, files.cert, files.key, stampFile].map(readText),
  );
  const now = options.now ?? new Date();
  const fresh =
    caText === ca.crt &&
    keyText !== undefined &&
    stampText === stamp &&
    certText !== undefined &&
    describeCertificate(certText).notAfter.getTime() - now.getTime() > renewBeforeMs;
  if (fresh) return false;
  await mkdir(spec.pkiDir, { recursive: true, mode: 0o700 });
  await chmod(spec.pkiDir, 0o700);
  const member = await issueCert({ ca, subject: spec.name, usage: "peer", sans, now });
  await writePrivate(files.ca, ca.crt);
  await writePrivate(files.key, member.key);
  await writePrivate(files.cert, member.crt);
  await writePrivate(stampFile, stamp);
  return true;
}
