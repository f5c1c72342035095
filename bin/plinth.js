#!/usr/bin/env node
// Entry point of the `plinth` CLI. Plinth runs its TypeScript sources directly on Node 24 (type
// stripping), which the project pins through npm; an older system node re-executes the pinned one.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  const pinned = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `plinth: needs Node.js 24 or newer, found ${process.versions.node}; run 'npm ci' in the checkout to install the pinned Node.js\n`,
    );
    process.exit(1);
  }
  const child = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(child.status ?? 1);
}

// Node prints a warning for type stripping and node:sqlite on first use; they are expected here.
const emit = /** @type {(...args: unknown[]) => boolean} */ (process.emit);
process.emit = /** @type {any} */ (
  /** @param {unknown[]} args */
  (...args) => {
    const [name, data] = args;
    if (name === "warning" && /** @type {Error | undefined} */ (data)?.name === "ExperimentalWarning") {
      return false;
    }
    return emit.apply(process, args);
  }
);

// Compiled code is cached on disk between runs: start-up is mostly module loading.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();

// The agent starts from a bundle of the sources when a current one exists (see agent-bundle.js),
// with V8 told not to spend its top tier on start-up code (see startup-tiering.js).
let main;
if (process.argv[2] === "agent") {
  (await import("../src/startup/startup-tiering.js")).beginStartupTiering();
  main = await (await import("./agent-bundle.js")).bundledMain();
}
main ??= (await import("../src/cli/main.ts")).main;
process.exitCode = await main(process.argv.slice(2));
