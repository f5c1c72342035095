import { randomUUID } from "node:crypto";
import { link, lstat, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PlinthError } from "../errors/plinth-error.ts";

/** Reads a text file; OS errors become PlinthErrors naming `what` and the path. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new PlinthError("not_found", `cannot read ${what} ${path}: no such file`, { cause: err });
    if (code === "EACCES")
      throw new PlinthError("permission_denied", `cannot read ${what} ${path}: permission denied`, {
        cause: err,
      });
    if (code === "EISDIR")
      throw new PlinthError("invalid_argument", `cannot read ${what} ${path}: it is a directory`, {
        cause: err,
      });
    throw new PlinthError("internal", `cannot read ${what} ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

export interface WriteFileOptions {
  /** Permission bits of a new file; 0o600 unless given, since configs hold keys. */
  readonly mode?: number;
  /** Replace an existing file; when false, an existing file is an already_exists error. */
  readonly overwrite?: boolean;
}

/**
 * Writes through a temporary file in the same directory, synced, then renamed over the target
 * (or hard-linked when it must not be overwritten), so readers never see half a file.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  options: WriteFileOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temp, "wx", options.mode ?? 0o600);
  let placed = false;
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    if (options.overwrite ?? true) {
      await rename(temp, path);
      placed = true;
    } else {
      await link(temp, path);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new PlinthError("already_exists", `refusing to overwrite ${path}; use --force`, { cause: err });
    }
    throw err;
  } finally {
    await handle.close().catch(() => {});
    if (!placed) await rm(temp, { force: true });
  }
}

export interface OutputFile {
  readonly path: string;
  readonly data: string;
  readonly mode?: number;
}

/**
 * Writes several files, each atomically. Without `force`, when any of them exists nothing at all
 * is written and the error lists every file in the way.
 */
export async function writeFilesAtomic(
  files: readonly OutputFile[],
  options: { force?: boolean } = {},
): Promise<void> {
  const force = options.force ?? false;
  if (!force) {
    const taken: string[] = [];
    for (const f of files) if (await exists(f.path)) taken.push(f.path);
    if (taken.length > 0) {
      throw new PlinthError("already_exists", `refusing to overwrite ${taken.join(", ")}; use --force`);
    }
  }
  for (const f of files) {
    await mkdir(dirname(f.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(f.path, f.data, { mode: f.mode, overwrite: force });
  }
}
