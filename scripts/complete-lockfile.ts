// The npm registry this project installs from serves only the platform packages of the machines
// it runs on (linux, glibc), so `npm install` leaves the other platforms' optional binaries
// (biome, buf) out of package-lock.json, and `npm ci` then refuses the lock file as out of sync.
// This adds an entry for each missing platform package, with its os/cpu/libc, so `npm ci`
// accepts the lock and skips them on this platform as it would anyway. Run after `npm install`:
// `npm run lockfile`.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
}

const path = fileURLToPath(new URL("../package-lock.json", import.meta.url));
const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, LockPackage> };
const platform =
  /-(android|darwin|linux|win32|freebsd|openbsd|sunos|aix)-(arm64|x64|armv7|arm|ia32|ppc64|s390x|riscv64)(-musl)?$/;
const added: string[] = [];
const unknown: string[] = [];

for (const meta of Object.values(lock.packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const m = dep.match(platform);
    if (!m) {
      unknown.push(dep);
      continue;
    }
    const [, os, cpu, musl] = m;
    lock.packages[key] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      os: [os!],
      cpu: [cpu === "armv7" ? "arm" : cpu!],
      ...(os === "linux" ? { libc: [musl ? "musl" : "glibc"] } : {}),
    };
    added.push(dep);
  }
}

const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
process.stdout.write(
  `lockfile: added ${added.length} platform entries${added.length ? `: ${added.join(", ")}` : ""}\n`,
);
if (unknown.length > 0) {
  process.stderr.write(
    `lockfile: cannot tell the platform of ${unknown.join(", ")}; npm ci may refuse the lock\n`,
  );
  process.exitCode = 1;
}
