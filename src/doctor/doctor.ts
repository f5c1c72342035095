import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { readdir } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import type { Feature, Prerequisite } from "./prerequisites.ts";
import { prerequisites } from "./prerequisites.ts";

const run = promisify(execFile);

export interface PrerequisiteCheck {
  readonly binary: string;
  readonly aptPackage: string;
  readonly neededBy: readonly Feature[];
  readonly found: boolean;
  readonly path?: string;
  readonly version?: string;
}

const extraDirs = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** Finds a program on PATH, also looking in the sbin directories that non-root PATHs often lack. */
export async function findBinary(binary: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, binary);
    try {
      // Synchronous: a few microseconds each, where the async form waits its turn in libuv's
      // thread pool, which a starting agent keeps busy (a quarter second was seen).
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function readVersion(path: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(path, [...args], { timeout: 5000 });
    const line = `${stdout}\n${stderr}`.split("\n").find((l) => /\d+\.\d+/.test(l));
    return line?.match(/\d+\.\d+(\.\d+)?[^\s,]*/)?.[0];
  } catch {
    return undefined;
  }
}

export function selectPrerequisites(selected?: readonly Feature[]): readonly Prerequisite[] {
  if (!selected || selected.length === 0) return prerequisites;
  return prerequisites.filter((p) => p.neededBy.some((f) => selected.includes(f)));
}

export async function checkPrerequisites(list: readonly Prerequisite[]): Promise<PrerequisiteCheck[]> {
  return Promise.all(
    list.map(async (p) => {
      const path = await findBinary(p.binary);
      const base = { binary: p.binary, aptPackage: p.aptPackage, neededBy: p.neededBy };
      if (!path) return { ...base, found: false };
      const version = await readVersion(path, p.versionArgs);
      return version === undefined ? { ...base, found: true, path } : { ...base, found: true, path, version };
    }),
  );
}

/** The apt-get command line that installs what is missing. */
export function installHint(missing: readonly PrerequisiteCheck[]): string {
  const pkgs = [...new Set(missing.map((m) => m.aptPackage))].sort();
  return `apt-get install -y --no-install-recommends ${pkgs.join(" ")}`;
}

async function aptListsPresent(): Promise<boolean> {
  try {
    const files = await readdir("/var/lib/apt/lists");
    return files.some((f) => f.endsWith("_Packages"));
  } catch {
    return false;
  }
}

export interface InstallOptions {
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** Installs Debian packages with apt-get; runs `apt-get update` first when no package lists exist. */
export async function installPackages(
  packages: readonly string[],
  options: InstallOptions = {},
): Promise<void> {
  if (packages.length === 0) return;
  const log = options.log ?? (() => {});
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const opts = { env, signal: options.signal, maxBuffer: 64 * 1024 * 1024 };
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", ...packages], opts);
  if (!(await aptListsPresent())) {
    log("apt-get update");
    await run("apt-get", ["update"], opts);
  }
  log(`apt-get install ${packages.join(" ")}`);
  try {
    await install();
  } catch {
    // Stale package lists are the usual cause; refresh once and retry.
    log("apt-get update (retry)");
    await run("apt-get", ["update"], opts);
    await install();
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}
