import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { PlinthError } from "../errors/plinth-error.ts";
import { createRegistry } from "../runtime/resource/registry.ts";
import { createMemoryState } from "../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../runtime/state/state.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { createBundle, packBundle, verifyBundle } from "../upgrade/bundle.ts";
import { slotEnv } from "../upgrade/launcher.ts";
import { readCurrent, readUpgradeRecord, setCurrent, writeUpgradeRecord } from "../upgrade/slots.ts";
import { type AgentUpgrades, createAgentUpgrades } from "./agent-upgrades.ts";
import { agentResources, UpgradeStatus, upgradeStatusId } from "./resources/index.ts";

const checkout = fileURLToPath(new URL("../..", import.meta.url));

describe("the agent's side of upgrades", () => {
  let dir: string;
  let state: State;
  let upgrades: AgentUpgrades;
  let bundle: Uint8Array;
  const deps = (guard: () => Promise<string[]> = async () => []) => ({
    guard,
    defaultTimeoutMs: 60_000,
    state,
    etcdHealthy: false,
  });
  const status = async () => (await state.get(UpgradeStatus.ptr(upgradeStatusId))).spec;

  beforeEach(async () => {
    delete process.env[slotEnv];
    dir = await mkdtemp(join(tmpdir(), "plinth-agent-upgrades-"));
    state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
    upgrades = createAgentUpgrades({ stateDir: dir, version: "0.1.0", log: () => pino({ level: "silent" }) });
    // A bundle of this checkout: its dependencies are the ones installed here.
    bundle = (await createBundle({ root: checkout, version: "0.2.0" })).archive;
  });
  afterEach(async () => {
    delete process.env[slotEnv];
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("installs into the inactive slot after the quorum guard, and records it staged", async () => {
    let guarded = 0;
    const accepted = await upgrades.install(
      { bundle, stage: false, force: false, timeoutMs: 5000 },
      deps(async () => {
        guarded++;
        return ["--force: skipped"];
      }),
    );
    assert.equal(guarded, 1);
    assert.deepEqual(accepted.warnings, ["--force: skipped"]);
    assert.equal(accepted.toVersion, "0.2.0");
    const record = await readUpgradeRecord(upgrades.installDir);
    assert.equal(record?.state, "staged");
    assert.equal(record?.to.slot, "a");
    assert.equal(record?.timeoutMs, 5000);
    assert.equal((await status()).state, "staged");
    assert.ok((await readdir(join(upgrades.installDir, "a", "src"))).includes("agent"));
    // The switch itself is the launcher's, at the next start.
    assert.equal(await readCurrent(upgrades.installDir), undefined);
  });

  it("records no upgrade when the quorum guard refuses", async () => {
    await assert.rejects(
      upgrades.install(
        { bundle, stage: false, force: false },
        deps(async () => {
          throw new PlinthError("failed_precondition", "Cannot upgrade cp-1: etcd member cp-3 is down");
        }),
      ),
      /etcd member cp-3 is down/,
    );
    // The inactive slot may hold the bundle; nothing points at it or asks for it.
    assert.equal(await readUpgradeRecord(upgrades.installDir), undefined);
    assert.equal(await readCurrent(upgrades.installDir), undefined);
    assert.equal(await upgrades.stagedPending(), false);
  });

  it("does not ask the guard for a staged upgrade (the reboot that applies it is guarded)", async () => {
    const accepted = await upgrades.install(
      { bundle, stage: true, force: false },
      deps(async () => assert.fail("guarded")),
    );
    assert.equal(accepted.staged, true);
    assert.equal(await upgrades.stagedPending(), true);
  });

  it("refuses bundles it cannot run: tampered, missing dependencies, too short a timeout", async () => {
    const v = verifyBundle(bundle);
    const needsMore = packBundle(v.files, {
      version: "0.3.0",
      dependencies: { ...v.manifest.dependencies, "left-pad": "1.3.0" },
    }).archive;
    await assert.rejects(
      upgrades.install({ bundle: needsMore, stage: false, force: false }, deps()),
      /bundle 0.3.0 needs npm packages this node does not have .*left-pad 1.3.0 \(not installed\)/,
    );
    await assert.rejects(
      upgrades.install({ bundle: bundle.subarray(0, 1000), stage: false, force: false }, deps()),
      /bundle refused/,
    );
    await assert.rejects(
      upgrades.install({ bundle, stage: false, force: false, timeoutMs: 10 }, deps()),
      /'timeout' must be at least 1s/,
    );
  });

  it("installs one upgrade at a time", async () => {
    const results = await Promise.allSettled([
      upgrades.install({ bundle, stage: true, force: false }, deps()),
      upgrades.install({ bundle, stage: true, force: false }, deps()),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.match(String(refused.reason), /another upgrade is being installed on this node/);
  });

  it("refuses a second upgrade while one is being tried", async () => {
    await upgrades.install({ bundle, stage: false, force: false }, deps());
    const r = (await readUpgradeRecord(upgrades.installDir))!;
    await writeUpgradeRecord(upgrades.installDir, { ...r, state: "trying", attempts: 1 });
    await assert.rejects(
      upgrades.install({ bundle, stage: false, force: false }, deps()),
      /the upgrade to 0.2.0 is still being tried/,
    );
  });

  it("in the new agent: records what is not healthy yet, then confirms", async () => {
    await upgrades.install({ bundle, stage: false, force: false }, deps());
    const r = (await readUpgradeRecord(upgrades.installDir))!;
    await writeUpgradeRecord(upgrades.installDir, { ...r, state: "trying", attempts: 1 });
    await setCurrent(upgrades.installDir, "a");
    process.env[slotEnv] = "a";
    const inNewAgent = createAgentUpgrades({
      stateDir: dir,
      version: "0.2.0",
      log: () => pino({ level: "silent" }),
    });
    const answers = ["controllers not converged: x (boom)", "controllers not converged: x (boom)", undefined];
    const seen: string[] = [];
    await inNewAgent.confirmWhenHealthy(
      state,
      async () => {
        const a = answers.shift();
        if (a === undefined) seen.push((await readUpgradeRecord(upgrades.installDir))?.lastCheck ?? "");
        return a;
      },
      new AbortController().signal,
    );
    assert.deepEqual(seen, ["controllers not converged: x (boom)"]);
    const done = await readUpgradeRecord(upgrades.installDir);
    assert.equal(done?.state, "done");
    assert.equal((await status()).state, "done");
  });

  it("refuses when the running slot is not the current one (a switch waits for a reboot)", async () => {
    await mkdir(upgrades.installDir, { recursive: true });
    await writeFile(join(upgrades.installDir, "placeholder"), "");
    await setCurrent(upgrades.installDir, "b");
    await assert.rejects(
      upgrades.install({ bundle, stage: false, force: false }, deps()),
      /slot b is current but this agent runs from its start-up code; reboot first/,
    );
  });
});
