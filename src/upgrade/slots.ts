import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PlinthError } from "../errors/plinth-error.ts";
import { type BundleManifest, manifestPath, type VerifiedBundle } from "./bundle.ts";

/**
 * The agent's install dir, `<state dir>/install`:
 *
 *   a/, b/         two slots, each an unpacked bundle (node_modules links to the node's own)
 *   current        symbolic link to "a" or "b"; absent: the agent runs the code it was started from
 *   upgrade.json   the latest upgrade: staged, being tried, done or rolled back
 *
 * `current` and `upgrade.json` are replaced by rename, so a crash leaves the old or the new one,
 * never a mix.
 */
export type SlotName = "a" | "b";

export function installDirOf(stateDir: string): string {
  return join(stateDir, "install");
}

export function slotDir(installDir: string, slot: SlotName): string {
  return join(installDir, slot);
}

/** The slot `current` points at, or undefined (the code the agent was started from). */
export async function readCurrent(installDir: string): Promise<SlotName | undefined> {
  const target = await readlink(join(installDir, "current")).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (target === undefined) return undefined;
  if (target !== "a" && target !== "b") {
    throw new PlinthError(
      "failed_precondition",
      `${join(installDir, "current")} points at '${target}'; expected 'a' or 'b'`,
    );
  }
  return target;
}

/** Points `current` at `slot` (undefined: removes it) in one rename. */
export async function setCurrent(installDir: string, slot: SlotName | undefined): Promise<void> {
  const link = join(installDir, "current");
  if (slot === undefined) {
    await rm(link, { force: true });
  } else {
    const tmp = join(installDir, `.current-${randomUUID()}`);
    await symlink(slot, tmp);
    await rename(tmp, link);
  }
  await syncDir(installDir);
}

export const otherSlot = (slot: SlotName | undefined): SlotName => (slot === "a" ? "b" : "a");

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `path` through a temporary file, synced, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/**
 * Unpacks a verified bundle into `slot` (first beside it, then renamed into place, so a slot is
 * whole or absent) and links `nodeModules` into it.
 */
export async function installSlot(
  installDir: string,
  slot: SlotName,
  bundle: VerifiedBundle,
  nodeModules: string,
): Promise<string> {
  await mkdir(installDir, { recursive: true, mode: 0o755 });
  const final = slotDir(installDir, slot);
  const staging = join(installDir, `.${slot}-${randomUUID()}`);
  try {
    for (const f of bundle.files) {
      const path = join(staging, ...f.path.split("/"));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.data, { mode: f.mode & 0o755 });
    }
    await writeFile(join(staging, manifestPath), `${JSON.stringify(bundle.manifest, null, 2)}\n`);
    await symlink(nodeModules, join(staging, "node_modules"));
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
    await syncDir(installDir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  return final;
}

export async function slotManifest(installDir: string, slot: SlotName): Promise<BundleManifest | undefined> {
  const text = await readFile(join(slotDir(installDir, slot), manifestPath), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as BundleManifest);
}

/** What became of the latest upgrade. */
export type UpgradeState = "staged" | "trying" | "done" | "rolled_back";

export interface UpgradeRecord {
  readonly id: string;
  /** The slot and version running before; slot undefined: the code the agent was started from. */
  readonly from: { readonly slot?: SlotName; readonly version: string };
  readonly to: { readonly slot: SlotName; readonly version: string };
  readonly state: UpgradeState;
  /** How long the new agent has to become healthy. */
  readonly timeoutMs: number;
  readonly requestedAt: string;
  /** When the new agent was started (trying). */
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Times the new agent was started; a second start means the first one died: roll back. */
  readonly attempts: number;
  /** The latest health check of the new agent that did not pass. */
  readonly lastCheck?: string;
  /** Why it was rolled back. */
  readonly error?: string;
  /** The node's etcd member was healthy when the upgrade was asked for: the new agent's must be too. */
  readonly requireEtcd?: boolean;
}

const recordFile = (installDir: string) => join(installDir, "upgrade.json");

export async function readUpgradeRecord(installDir: string): Promise<UpgradeRecord | undefined> {
  const text = await readFile(recordFile(installDir), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  return text === undefined ? undefined : (JSON.parse(text) as UpgradeRecord);
}

export async function writeUpgradeRecord(installDir: string, record: UpgradeRecord): Promise<void> {
  await mkdir(installDir, { recursive: true });
  await writeFileAtomic(recordFile(installDir), `${JSON.stringify(record, null, 2)}\n`);
}

/** Points `current` back where it was before the upgrade and records why. */
export async function rollBack(
  installDir: string,
  record: UpgradeRecord,
  error: string,
): Promise<UpgradeRecord> {
  await setCurrent(installDir, record.from.slot);
  const rolled: UpgradeRecord = {
    ...record,
    state: "rolled_back",
    error,
    finishedAt: new Date().toISOString(),
  };
  await writeUpgradeRecord(installDir, rolled);
  return rolled;
}
