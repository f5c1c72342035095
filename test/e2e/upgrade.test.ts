// Agent upgrades end to end: a real agent in a sandbox, under an init that starts it again when
// it exits (as a cluster node's does), upgraded through the CLI with a good bundle, then with a
// broken one that is rolled back by itself.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { fromConnectError } from "../../src/api/error-mapping.ts";
import { resourceFromWire } from "../../src/api/resource-wire.ts";
import { runCli } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { type SandboxedAgent, startSandboxedAgent } from "../../src/testing/sandboxed-agent.ts";
import { packBundle, verifyBundle } from "../../src/upgrade/bundle.ts";
import { packTar, unpackTar } from "../../src/upgrade/tar.ts";

describe("agent upgrades with rollback, a real agent in a sandbox", () => {
  let a: SandboxedAgent;
  let dir: string;
  const bundles = { good: "", good3: "", broken: "", stuck: "", tampered: "" };
  let baseVersion = "";

  const version = async () => (await a.machine.version({})).messages[0]?.version?.tag;
  const upgradeStatus = async () => {
    const res = await a.resources.get({ type: "UpgradeStatus", id: "agent", namespace: "runtime" });
    return resourceFromWire(res.messages[0]?.resource).spec as Record<string, string>;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-e2e-upgrade-"));
    bundles.good = join(dir, "good.tar.gz");
    const made = await runCli(["bundle", "create", "--out", bundles.good, "--version", "9.9.1"]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /bundle 9\.9\.1: \d+ files, \d+ bytes/);
    bundles.good3 = join(dir, "good3.tar.gz");
    const made3 = await runCli(["bundle", "create", "--out", bundles.good3, "--version", "9.9.3"]);
    assert.equal(made3.code, 0, made3.stderr);
    // Broken: its entry exits at once (a correct manifest: only the agent itself is bad).
    const good = verifyBundle(await readFile(bundles.good));
    const brokenFiles = good.files.map((f) =>
      f.path === "bin/plinth.js" ? { ...f, data: Buffer.from("process.exit(3);\n") } : f,
    );
    bundles.broken = join(dir, "broken.tar.gz");
    await writeFile(
      bundles.broken,
      packBundle(brokenFiles, { version: "9.9.2", dependencies: good.manifest.dependencies }).archive,
    );
    // Stuck: its agent serves, but one controller never converges.
    const stuckFiles = good.files.map((f) =>
      f.path === "src/runtime/controller/controller-runtime.ts"
        ? {
            ...f,
            data: Buffer.from(
              String(f.data).replace(
                "failing: () =>",
                'failing: () => [{ name: "StuckController", error: "never converges" }],\n    _failing: () =>',
              ),
            ),
          }
        : f,
    );
    bundles.stuck = join(dir, "stuck.tar.gz");
    await writeFile(
      bundles.stuck,
      packBundle(stuckFiles, { version: "9.9.4", dependencies: good.manifest.dependencies }).archive,
    );
    // Tampered: one file changed after the manifest was written.
    const entries = unpackTar(gunzipSync(await readFile(bundles.good))).map((e) =>
      e.path === "src/version.ts" ? { ...e, data: Buffer.from(`${e.data}\n// changed\n`) } : e,
    );
    bundles.tampered = join(dir, "tampered.tar.gz");
    const { gzipSync } = await import("node:zlib");
    await writeFile(bundles.tampered, gzipSync(packTar(entries)));
    a = await startSandboxedAgent({ name: "upgrade-e2e", init: true });
    baseVersion = (await version()) ?? "";
  });

  after(async () => {
    await a?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a tampered bundle, at the CLI and at the agent, naming the file", async () => {
    const r = await a.cli(["upgrade", "--bundle", bundles.tampered]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bundle refused: 'src\/version.ts' has sha256 [0-9a-f]{64}.*the manifest says/);
    await assert.rejects(a.machine.upgrade({ bundle: await readFile(bundles.tampered) }), (err) => {
      const e = fromConnectError(err);
      assert.equal(e.code, "invalid_argument");
      assert.match(e.message, /bundle refused: 'src\/version.ts' has sha256/);
      return true;
    });
    assert.equal(await version(), baseVersion);
  });

  it("upgrades to a good bundle: the agent comes back from the other slot with its version", async () => {
    const r = await a.cli(["upgrade", "--bundle", bundles.good, "--timeout", "30s"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${a.output().slice(-3000)}`);
    assert.match(r.stdout, new RegExp(`installed 9\\.9\\.1 \\(was ${baseVersion.replaceAll(".", "\\.")}\\)`));
    assert.match(
      r.stdout,
      new RegExp(`OK\\s+\\S+: upgraded ${baseVersion.replaceAll(".", "\\.")} → 9\\.9\\.1`),
    );
    assert.equal(await eventually("the new agent's version", version), "9.9.1");
    const st = await upgradeStatus();
    assert.equal(st.state, "done");
    assert.equal(st.toSlot, "a");
    const current = await a.box.exec("readlink", ["/var/lib/plinth/state/install/current"]);
    assert.equal(current.stdout.trim(), "a");
  });

  it("rolls a broken bundle back by itself: the old version serves again and says why", async () => {
    const r = await a.cli(["upgrade", "--bundle", bundles.broken, "--timeout", "30s"]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /FAIL \S+: rolled back to 9\.9\.1: the agent 9\.9\.2 stopped before it became healthy/,
    );
    assert.match(r.stderr, /upgrade stopped/);
    assert.equal(await eventually("the old agent's version", version), "9.9.1");
    const st = await upgradeStatus();
    assert.equal(st.state, "rolled_back");
    assert.equal(st.fromVersion, "9.9.1");
    assert.equal(st.toVersion, "9.9.2");
    assert.match(st.error ?? "", /the agent 9\.9\.2 stopped before it became healthy/);
    const current = await a.box.exec("readlink", ["/var/lib/plinth/state/install/current"]);
    assert.equal(current.stdout.trim(), "a", "back on the slot that was current");
  });

  it("stages a bundle: nothing changes until the next reboot, which switches to it", async () => {
    const r = await a.cli(["upgrade", "--bundle", bundles.good3, "--stage"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /OK\s+\S+: 9\.9\.3 staged for the next reboot/);
    assert.equal(await version(), "9.9.1");
    assert.equal((await upgradeStatus()).state, "staged");
    const rebooted = await a.cli(["reboot"]);
    assert.equal(rebooted.code, 0, rebooted.stderr);
    assert.equal(
      await eventually("the staged agent's version", async () =>
        (await version()) === "9.9.3" ? "9.9.3" : undefined,
      ),
      "9.9.3",
    );
    const st = await eventually("the staged upgrade confirmed", async () => {
      const s = await upgradeStatus();
      return s.state === "done" ? s : undefined;
    });
    assert.equal(st.fromVersion, "9.9.1");
    assert.equal(st.toSlot, "b");
  });

  it("rolls back an agent that serves but is not healthy within the timeout, saying what it saw", async () => {
    const r = await a.cli(["upgrade", "--bundle", bundles.stuck, "--timeout", "4s"]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /FAIL \S+: rolled back to 9\.9\.3: the agent 9\.9\.4 was not healthy within 4 s: controllers not converged: StuckController \(never converges\)/,
    );
    assert.equal(await eventually("the old agent's version", version), "9.9.3");
    const st = await upgradeStatus();
    assert.equal(st.state, "rolled_back");
    assert.equal(st.toSlot, "a");
    const current = await a.box.exec("readlink", ["/var/lib/plinth/state/install/current"]);
    assert.equal(current.stdout.trim(), "b");
  });
});
