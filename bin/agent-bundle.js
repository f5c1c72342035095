// `plinth agent` starts from a bundle of its sources when a current one exists: one JavaScript
// module instead of hundreds of TypeScript ones (faster start, and no type-stripping compiler
// kept in memory). Current means every source file that went into it still has the content it
// had then (sha256), and so does package-lock.json. A missing or stale bundle is rebuilt by a
// background process (src/startup/build-agent-bundle.ts, with the optional esbuild package)
// while this start runs from the sources, so a change to the sources is never run stale.
// PLINTH_NO_BUNDLE=1 always runs from the sources.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const defaultBundleDir = `${root}node_modules/.cache/plinth-agent/`;

/**
 * The bundle's `main`, when the bundle is current; otherwise undefined (and, unless told not
 * to, a rebuild into the default directory has been started in the background).
 * @param {{ dir?: string, rebuild?: boolean }} [options]
 * @returns {Promise<((argv: string[]) => Promise<number>) | undefined>}
 */
export async function bundledMain(options = {}) {
  if (process.env.PLINTH_NO_BUNDLE) return undefined;
  const dir = options.dir ?? defaultBundleDir;
  const stale = () => {
    if (options.rebuild !== false) rebuild(dir);
    return undefined;
  };
  /** @type {{ version: number, entry: string, inputs: Record<string, string> } | undefined} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));
  } catch {
    manifest = undefined;
  }
  if (manifest?.version !== 1 || !isCurrent(manifest.inputs)) return stale();
  try {
    return (await import(pathToFileURL(`${dir}/${manifest.entry}`).href)).main;
  } catch {
    // Removed or unreadable meanwhile: the sources are always there.
    return stale();
  }
}

/** @param {Record<string, string>} inputs */
function isCurrent(inputs) {
  for (const [path, hash] of Object.entries(inputs)) {
    let content;
    try {
      content = readFileSync(root + path);
    } catch {
      return false;
    }
    if (createHash("sha256").update(content).digest("hex") !== hash) return false;
  }
  return true;
}

/**
 * Starts one background build; a build already running (lock younger than a minute) is enough.
 * @param {string} dir
 */
function rebuild(dir) {
  if (!existsSync(`${root}node_modules/esbuild/package.json`)) return;
  const lock = `${dir}/build.lock`;
  try {
    if (Date.now() - statSync(lock).mtimeMs < 60_000) return;
    unlinkSync(lock);
  } catch {
    // No lock: nobody is building.
  }
  try {
    closeSync(openSync(lock, "wx"));
  } catch {
    // The directory does not exist yet (the builder makes it), or another start just took the lock.
    if (existsSync(dir)) return;
  }
  const child = spawn(
    process.execPath,
    // The builder builds into `dir` and removes the lock taken here when it is done.
    ["--disable-warning=ExperimentalWarning", `${root}src/startup/build-agent-bundle.ts`, dir],
    { detached: true, stdio: "ignore" },
  );
  child.unref();
}
