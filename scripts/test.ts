// `npm test`: makes sure the system programs the tests need exist (installing them as root),
// then runs every test file with Node's test runner.
import { spawnSync } from "node:child_process";
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

const patterns = process.argv.slice(2);
const files = patterns.length > 0 ? patterns : ["src/**/*.test.ts", "test/**/*.test.ts"];
const result = spawnSync(
  process.execPath,
  ["--disable-warning=ExperimentalWarning", "--test", "--test-concurrency=4", ...files],
  { stdio: "inherit", cwd: root, env: { ...process.env, NODE_ENV: "test" } },
);
process.exit(result.status ?? 1);
