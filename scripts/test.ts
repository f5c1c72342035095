// `npm test`: makes sure the system programs the tests need exist (installing them as root),
// then runs every test file with Node's test runner.
import { spawnSync } from "node:child_process";
import { glob } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const plinth = fileURLToPath(new URL("../bin/plinth.js", import.meta.url));
const isRoot = process.getuid?.() === 0;

const doctor = spawnSync(
  process.execPath,
  [plinth, "doctor", "--feature", "tests", ...(isRoot ? ["--install"] : [])],
  { stdio: "inherit", cwd: root },
);
if (doctor.status !== 0) {
  process.stderr.write(
    isRoot
      ? "npm test: installing the test prerequisites failed (see above)\n"
      : "npm test: some prerequisites are missing (see above); tests that need them will fail\n",
  );
  if (isRoot) process.exit(doctor.status ?? 1);
}

// Tests that measure timing on real sockets (latency preference, health-check timeouts) run on
// their own after the rest, so that other test files' load cannot skew what they measure.
const timingSensitive = ["src/balancer/balancer.test.ts", "src/balancer/kernel-data-path.test.ts"];

const patterns = process.argv.slice(2);
const run = (files: readonly string[], concurrency: number) =>
  spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "--test", `--test-concurrency=${concurrency}`, ...files],
    { stdio: "inherit", cwd: root, env: { ...process.env, NODE_ENV: "test" } },
  ).status ?? 1;

if (patterns.length > 0) process.exit(run(patterns, 4));

const all: string[] = [];
for (const pattern of ["src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"]) {
  for await (const file of glob(pattern, { cwd: root })) all.push(file);
}
const parallel = all.filter((f) => !timingSensitive.includes(f)).sort();
const alone = all.filter((f) => timingSensitive.includes(f));
const first = run(parallel, 4);
process.stdout.write(`\nnpm test: timing-sensitive tests, one file at a time: ${alone.join(", ")}\n`);
const second = run(alone, 1);
process.exit(first !== 0 ? first : second);
