import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createBundle, verifyBundle } from "./bundle.ts";
import { armTrialDeadline, chooseAgentCode, slotEnv } from "./launcher.ts";
import {
  installDirOf,
  installSlot,
  readCurrent,
  readUpgradeRecord,
  rollBack,
  setCurrent,
  type UpgradeRecord,
  writeUpgradeRecord,
} from "./slots.ts";

async function bundleAt(root: string, version: string) {
  await mkdir(join(root, "bin"), { recursive: true });
  await mkdir(join(root, "src"), { recursive: true });
  await writeFile(join(root, "package.json"), JSON.stringify({ version }));
  await writeFile(join(root, "bin", "plinth.js"), `// ${version}\n`, { mode: 0o755 });
  await writeFile(join(root, "src", "a.ts"), "export {};\n");
  return verifyBundle((await createBundle({ root, version })).archive);
}

const record = (over: Partial<UpgradeRecord> = {}): UpgradeRecord => ({
  id: "u1",
  from: { version: "0.1.0" },
  to: { slot: "a", version: "0.2.0" },
  state: "staged",
  timeoutMs: 60_000,
  requestedAt: new Date().toISOString(),
  attempts: 0,
  ...over,
});

describe("install slots", () => {
  let dir: string;
  let install: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-slots-"));
    install = installDirOf(dir);
    delete process.env[slotEnv];
  });
  afterEach(async () => {
    delete process.env[slotEnv];
    await rm(dir, { recursive: true, force: true });
  });

  it("installs a bundle whole into a slot, with the node's node_modules linked", async () => {
    const b = await bundleAt(join(dir, "src-0.2.0"), "0.2.0");
    const slot = await installSlot(install, "a", b, "/some/node_modules");
    assert.equal(await readFile(join(slot, "bin", "plinth.js"), "utf8"), "// 0.2.0\n");
    assert.equal(await readlink(join(slot, "node_modules")), "/some/node_modules");
    assert.equal(JSON.parse(await readFile(join(slot, "plinth-bundle.json"), "utf8")).version, "0.2.0");
    // Installing again replaces the slot; no staging directory is left behind.
    const b2 = await bundleAt(join(dir, "src-0.3.0"), "0.3.0");
    await installSlot(install, "a", b2, "/some/node_modules");
    assert.equal(await readFile(join(slot, "bin", "plinth.js"), "utf8"), "// 0.3.0\n");
    assert.deepEqual((await readdir(install)).sort(), ["a"]);
  });

  it("switches `current` by renaming a new link over it, and removes it", async () => {
    await mkdir(install, { recursive: true });
    assert.equal(await readCurrent(install), undefined);
    await setCurrent(install, "a");
    assert.equal(await readCurrent(install), "a");
    await setCurrent(install, "b");
    assert.equal(await readCurrent(install), "b");
    assert.deepEqual((await readdir(install)).sort(), ["current"]);
    await setCurrent(install, undefined);
    assert.equal(await readCurrent(install), undefined);
  });

  it("refuses a `current` that points anywhere else", async () => {
    await mkdir(install, { recursive: true });
    const { symlink } = await import("node:fs/promises");
    await symlink("/etc", join(install, "current"));
    await assert.rejects(readCurrent(install), /points at '\/etc'; expected 'a' or 'b'/);
  });

  it("rolls back to where it was: the slot before, or no slot at all", async () => {
    await mkdir(install, { recursive: true });
    await setCurrent(install, "b");
    const r = await rollBack(
      install,
      record({ from: { slot: "a", version: "0.1.0" }, to: { slot: "b", version: "0.2.0" } }),
      "sick",
    );
    assert.equal(await readCurrent(install), "a");
    assert.equal(r.state, "rolled_back");
    assert.equal((await readUpgradeRecord(install))?.error, "sick");
    await rollBack(install, record({ to: { slot: "a", version: "0.2.0" } }), "sick again");
    assert.equal(await readCurrent(install), undefined);
  });
});

describe("the launcher's choice at start", () => {
  let dir: string;
  let install: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-launch-"));
    install = installDirOf(dir);
    await mkdir(install, { recursive: true });
    delete process.env[slotEnv];
  });
  afterEach(async () => {
    delete process.env[slotEnv];
    await rm(dir, { recursive: true, force: true });
  });

  it("runs its own code when nothing is installed", async () => {
    assert.deepEqual(await chooseAgentCode(dir), { notes: [] });
  });

  it("switches to a staged upgrade and tries it once; a second start rolls it back", async () => {
    await writeUpgradeRecord(install, record());
    const first = await chooseAgentCode(dir);
    assert.equal(first.slot, "a");
    assert.equal(first.trial?.state, "trying");
    assert.equal(first.trial?.attempts, 1);
    assert.equal(await readCurrent(install), "a");
    // The new agent died before it confirmed (it recorded what it saw last): the next start rolls back.
    await writeUpgradeRecord(install, { ...first.trial!, lastCheck: "etcd member not healthy" });
    const second = await chooseAgentCode(dir);
    assert.equal(second.slot, undefined);
    assert.equal(second.trial, undefined);
    const r = await readUpgradeRecord(install);
    assert.equal(r?.state, "rolled_back");
    assert.match(
      r?.error ?? "",
      /the agent 0.2.0 stopped before it became healthy \(last check: etcd member not healthy\)/,
    );
    assert.equal(await readCurrent(install), undefined);
  });

  it("keeps running a confirmed upgrade's slot", async () => {
    await setCurrent(install, "b");
    await writeUpgradeRecord(install, record({ state: "done", to: { slot: "b", version: "0.2.0" } }));
    const c = await chooseAgentCode(dir);
    assert.equal(c.slot, "b");
    assert.equal(c.trial, undefined);
  });

  it("leaves the choice to the outer launcher once one was made", async () => {
    await writeUpgradeRecord(install, record());
    process.env[slotEnv] = "a";
    assert.deepEqual(await chooseAgentCode(dir), { notes: [] });
    assert.equal((await readUpgradeRecord(install))?.state, "staged");
  });

  it("rolls back an upgrade not confirmed within its time, then stops the agent", async () => {
    await writeUpgradeRecord(install, record({ timeoutMs: 200 }));
    const c = await chooseAgentCode(dir);
    await writeUpgradeRecord(install, { ...c.trial!, lastCheck: "controllers not converged: x (boom)" });
    const rolled = await new Promise<UpgradeRecord>((resolve) => {
      let seen: UpgradeRecord | undefined;
      armTrialDeadline(
        dir,
        c.trial!,
        (r) => (seen = r),
        () => resolve(seen!),
      );
    });
    assert.equal(rolled.state, "rolled_back");
    assert.match(rolled.error ?? "", /not healthy within 0.2 s: controllers not converged: x \(boom\)/);
    assert.equal(await readCurrent(install), undefined);
  });

  it("leaves a confirmed upgrade alone at the deadline", async () => {
    await writeUpgradeRecord(install, record({ timeoutMs: 100 }));
    const c = await chooseAgentCode(dir);
    await writeUpgradeRecord(install, { ...c.trial!, state: "done" });
    let stopped = false;
    const t = armTrialDeadline(
      dir,
      c.trial!,
      () => {},
      () => (stopped = true),
    );
    t.ref();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stopped, false);
    assert.equal(await readCurrent(install), "a");
  });
});
