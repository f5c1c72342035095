import { open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { StoredAffiliate } from "./affiliate-record.ts";
import type { StoreContents } from "./memory-store.ts";

// Snapshots of the memory store: JSON, bytes as base64, written atomically (a temporary file in
// the same directory, fsynced, renamed over the old one, the directory fsynced), so a crash at any
// moment leaves either the previous snapshot or the new one, never a torn file.

const format = "plinth-discovery-snapshot/v1";

interface SnapshotJson {
  readonly format: string;
  readonly savedAt: string;
  readonly clusters: {
    id: string;
    affiliates: {
      id: string;
      data: string;
      expiresAt: number;
      endpoints: { data: string; expiresAt: number }[];
    }[];
  }[];
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

function toJson(contents: StoreContents, savedAt: Date): SnapshotJson {
  return {
    format,
    savedAt: savedAt.toISOString(),
    clusters: contents.clusters.map((c) => ({
      id: c.id,
      affiliates: c.affiliates.map((a) => ({
        id: a.id,
        data: b64(a.data),
        expiresAt: a.expiresAt,
        endpoints: a.endpoints.map((e) => ({ data: b64(e.data), expiresAt: e.expiresAt })),
      })),
    })),
  };
}

function fromJson(json: SnapshotJson, path: string): StoreContents {
  if (json?.format !== format || !Array.isArray(json.clusters)) {
    throw new PlinthError(
      "invalid_argument",
      `snapshot ${path} is not a discovery snapshot: 'format' must be '${format}', current value is ${JSON.stringify(json?.format)}`,
    );
  }
  return {
    clusters: json.clusters.map((c) => ({
      id: String(c.id),
      affiliates: c.affiliates.map(
        (a): StoredAffiliate => ({
          id: String(a.id),
          data: bytes(a.data),
          expiresAt: Number(a.expiresAt),
          endpoints: a.endpoints.map((e) => ({ data: bytes(e.data), expiresAt: Number(e.expiresAt) })),
        }),
      ),
    })),
  };
}

/** Writes the snapshot atomically; returns its size in bytes. */
export async function writeSnapshot(
  path: string,
  contents: StoreContents,
  savedAt = new Date(),
): Promise<number> {
  const text = JSON.stringify(toJson(contents, savedAt));
  const temp = join(dirname(path), `.${process.pid}.${Date.now()}.snapshot.tmp`);
  try {
    const file = await open(temp, "w", 0o600);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new PlinthError("unavailable", `cannot write snapshot ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return Buffer.byteLength(text);
}

/** The snapshot's contents; undefined when there is no file yet. */
export async function readSnapshot(path: string): Promise<StoreContents | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PlinthError("unavailable", `cannot read snapshot ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let json: SnapshotJson;
  try {
    json = JSON.parse(text) as SnapshotJson;
  } catch (err) {
    throw new PlinthError(
      "invalid_argument",
      `snapshot ${path} is not valid JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return fromJson(json, path);
}
