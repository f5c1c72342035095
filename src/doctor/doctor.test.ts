import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { checkPrerequisites, findBinary, installHint, selectPrerequisites } from "./doctor.ts";

const run = promisify(execFile);
const plinth = fileURLToPath(new URL("../../bin/plinth.js", import.meta.url));

describe("doctor", () => {
  it("finds programs on PATH and reads their version", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plinth-doctor-"));
    const saved = process.env.PATH;
    try {
      const tool = join(dir, "fake-tool");
      await writeFile(tool, "#!/bin/sh\necho 'fake-tool version 1.2.3'\n");
      await chmod(tool, 0o755);
      process.env.PATH = `${dir}:${saved}`;
      assert.equal(await findBinary("fake-tool"), tool);
      const [found, missing] = await checkPrerequisites([
        { binary: "fake-tool", aptPackage: "fake", versionArgs: ["--version"], neededBy: ["tests"] },
        { binary: "surely-not-installed-xyz", aptPackage: "xyz-pkg", versionArgs: [], neededBy: ["tests"] },
      ]);
      assert.deepEqual(
        { found: found?.found, version: found?.version, path: found?.path },
        { found: true, version: "1.2.3", path: tool },
      );
      assert.equal(missing?.found, false);
      assert.equal(installHint([missing!]), "apt-get install -y --no-install-recommends xyz-pkg");
    } finally {
      process.env.PATH = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("selects what a feature needs", () => {
    const list = selectPrerequisites(["state-etcd"]);
    assert.ok(list.some((p) => p.aptPackage === "etcd-server"));
    assert.ok(list.every((p) => p.neededBy.includes("state-etcd")));
  });

  it("prints JSON and exits 0 when nothing is missing", async () => {
    const { stdout } = await run(process.execPath, [plinth, "doctor", "--json", "--feature", "state-etcd"]);
    const result = JSON.parse(stdout) as { ok: boolean; checks: { binary: string; found: boolean }[] };
    assert.equal(result.ok, true, "etcd must be installed: run 'npx plinth doctor --install' as root");
    assert.ok(result.checks.some((c) => c.binary === "etcd" && c.found));
  });

  it("rejects an unknown feature naming the allowed ones", async () => {
    await assert.rejects(
      run(process.execPath, [plinth, "doctor", "--feature", "bogus"]),
      (err: { stderr: string; code: number }) =>
        /bogus/.test(err.stderr) && /state-etcd/.test(err.stderr) && err.code !== 0,
    );
  });
});
