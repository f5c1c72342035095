import assert from "node:assert/strict";
import { afterEach, describe, it, mock } from "node:test";
import { fixtures, yamlOf } from "../config/testing/fixtures.ts";
import { hasCode } from "../errors/plinth-error.ts";
import { createControllerRuntime } from "../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../runtime/resource/registry.ts";
import { createMemoryState } from "../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../runtime/state/state.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { type ApplyRequest, type ConfigApplierOptions, createConfigApplier } from "./config-applier.ts";
import {
  configHistory,
  configTrial,
  currentConfig,
  defaultHistoryLimit,
  stagedConfig,
} from "./config-store.ts";
import { createServiceConfigController } from "./controllers/config/service-config-controller.ts";
import { createHostConfigControllers } from "./controllers/host-controllers.ts";
import { agentResources, type ConfigRecord } from "./resources/index.ts";

const service = (name: string) => ({
  apiVersion: "v1alpha1",
  kind: "Service",
  name,
  command: "/bin/sleep",
  args: ["60"],
});
const hostname = (name: string) => ({ apiVersion: "v1alpha1", kind: "Hostname", hostname: name });
const sysctls = (values: Record<string, string>) => ({
  apiVersion: "v1alpha1",
  kind: "Sysctls",
  sysctls: values,
});

async function controlplane(patch: { installDir?: string; etcdDataDir?: string } = {}): Promise<unknown[]> {
  type Doc = Record<string, unknown>;
  const [machine, cluster, ...rest] = structuredClone((await fixtures()).controlplane) as Doc[];
  if (patch.installDir) machine!.install = { dir: patch.installDir };
  if (patch.etcdDataDir) (cluster!.etcd as Doc).dataDir = patch.etcdDataDir;
  return [machine, cluster, ...rest];
}

const configControllers = () => [
  createServiceConfigController({ mode: "netns" }),
  ...createHostConfigControllers({ mode: "netns" }),
];

interface Setup {
  state: State;
  applier: ReturnType<typeof createConfigApplier>;
  stored: { record: ConfigRecord; restart: boolean }[];
  reopen(): ReturnType<typeof createConfigApplier>;
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  mock.timers.reset();
});

function setup(extra: Partial<ConfigApplierOptions> = {}): Setup {
  const state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
  const stored: Setup["stored"] = [];
  const make = () => {
    const applier = createConfigApplier({
      state,
      mode: "netns",
      onStored: (record, effects) => stored.push({ record, restart: effects.restart }),
      ...extra,
    });
    open.push(applier);
    return applier;
  };
  return { state, applier: make(), stored, reopen: make };
}

const request = (yaml: string, extra: Partial<ApplyRequest> = {}): ApplyRequest => ({
  yaml,
  mode: "auto",
  dryRun: false,
  appliedBy: "admin",
  ...extra,
});

/** Lets the promise chains a fired timer started run to their end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

describe("config applier", () => {
  it("accepts a partial config in maintenance mode and stays there", async () => {
    const { state, applier } = setup();
    const r = await applier.apply(request(yamlOf(service("web"))));
    assert.deepEqual(r.warnings, ["the config is partial: the machine stays in maintenance mode"]);
    assert.equal((await currentConfig(state))?.complete, false);
  });

  it("once complete, refuses a partial config and keeps the stored one", async () => {
    const { state, applier } = setup();
    await applier.apply(request(yamlOf(...(await controlplane()))));
    await assert.rejects(applier.apply(request(yamlOf(service("web")))), (e) =>
      hasCode(e, "invalid_argument"),
    );
    const stored = await currentConfig(state);
    assert.equal(stored?.revision, 1);
    assert.equal(stored?.complete, true);
  });

  it("a dry run returns the diff and stores nothing", async () => {
    const { state, applier, stored } = setup();
    const r = await applier.apply(request(yamlOf(...(await controlplane())), { dryRun: true }));
    assert.match(r.diff, /^\+kind: ClusterConfig$/m);
    assert.equal(r.record, undefined);
    assert.equal(await currentConfig(state), undefined);
    assert.deepEqual(stored, []);
  });

  it("a dry run lists the spec resources the config controllers would create, update and destroy", async () => {
    const { state, applier } = setup({ previewControllers: configControllers });
    const runtime = createControllerRuntime({ state });
    runtime.register(...configControllers());
    await runtime.start();
    try {
      const base = await controlplane();
      await applier.apply(
        request(yamlOf(...base, hostname("node-a"), sysctls({ "net.ipv4.ip_forward": "1" }), service("old"))),
      );
      for (const [namespace, type, id] of [
        ["runtime", "ServiceSpec", "old"],
        ["network", "HostnameSpec", "hostname"],
        ["runtime", "SysctlSpec", "net.ipv4.ip_forward"],
      ] as const) {
        await state.waitFor({ namespace, type, id }, (r) => r !== undefined, {
          signal: AbortSignal.timeout(5000),
        });
      }
      const before = await state.list({ namespace: "runtime", type: "SysctlSpec" });
      const r = await applier.apply(
        request(
          yamlOf(
            ...base,
            hostname("node-b"),
            sysctls({ "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.forwarding": "1" }),
            service("new"),
          ),
          { dryRun: true },
        ),
      );
      assert.deepEqual(
        r.resourceChanges.map((c) => `${c.action} ${c.namespace}/${c.type}/${c.id}`),
        [
          "update network/HostnameSpec/hostname",
          "create runtime/ServiceSpec/new",
          "destroy runtime/ServiceSpec/old",
          "create runtime/SysctlSpec/net.ipv4.conf.all.forwarding",
        ],
      );
      // Nothing live moved.
      assert.equal((await currentConfig(state))?.revision, 1);
      assert.deepEqual(await state.list({ namespace: "runtime", type: "SysctlSpec" }), before);
    } finally {
      await runtime.stop();
    }
  });

  it("answers a concurrent apply with failed_precondition, never a half-merged state", async () => {
    const { state, applier } = setup();
    const cp = await controlplane();
    const results = await Promise.allSettled([
      applier.apply(request(yamlOf(...cp))),
      applier.apply(request(yamlOf(...cp, service("other")))),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.ok(hasCode((results[1] as PromiseRejectedResult).reason, "failed_precondition"));
    assert.equal((await configHistory(state)).length, 1);
  });

  it("refuses configs without a way to get an API certificate", async () => {
    const { applier } = setup();
    const { worker } = await fixtures();
    await assert.rejects(
      applier.apply(request(yamlOf(...worker))),
      (e) => hasCode(e, "failed_precondition") && /trust needs 'certificate'/.test((e as Error).message),
    );
  });

  it("keeps a bounded history, 20 by default, newest first, with who applied each config", async () => {
    const { state, applier } = setup();
    const cp = await controlplane();
    for (let i = 0; i < defaultHistoryLimit + 3; i++) {
      await applier.apply(request(yamlOf(...cp, service(`s${i}`)), { appliedBy: `user-${i}` }));
    }
    const history = await configHistory(state);
    assert.equal(defaultHistoryLimit, 20);
    assert.equal(history.length, defaultHistoryLimit);
    assert.equal(history[0]?.revision, defaultHistoryLimit + 3);
    assert.equal(history[0]?.appliedBy, `user-${defaultHistoryLimit + 2}`);
    assert.equal((await configHistory(state, 2)).length, 2);
  });

  it("keeps as many past configs as it is told to", async () => {
    const { state, applier } = setup({ historyLimit: 3 });
    const cp = await controlplane();
    for (let i = 0; i < 5; i++) await applier.apply(request(yamlOf(...cp, service(`s${i}`))));
    assert.deepEqual(
      (await configHistory(state)).map((r) => r.revision),
      [5, 4, 3],
    );
  });
});

describe("apply modes", () => {
  it("no-reboot refuses a change that needs a restart, naming every such field, and stores nothing", async () => {
    const { state, applier } = setup();
    await applier.apply(request(yamlOf(...(await controlplane()))));
    const changed = yamlOf(...(await controlplane({ installDir: "/opt/plinth", etcdDataDir: "/srv/etcd" })));
    await assert.rejects(
      applier.apply(request(changed, { mode: "no_reboot" })),
      (e) =>
        hasCode(e, "failed_precondition") &&
        (e as Error).message ===
          "Cannot apply config with mode no-reboot: changing MachineConfig.install.dir, ClusterConfig.etcd.dataDir " +
            "needs a restart of the agent; apply with mode auto (restarts it now) or staged (at its next start)",
    );
    assert.equal((await currentConfig(state))?.revision, 1);
    // Live changes pass.
    const live = await applier.apply(
      request(yamlOf(...(await controlplane()), hostname("x")), { mode: "no_reboot" }),
    );
    assert.equal(live.mode, "no_reboot");
  });

  it("auto applies a change that needs a restart and asks for one, after the restart check", async () => {
    const checks: string[] = [];
    const { applier, stored } = setup({
      beforeRestart: async () => {
        checks.push("guard");
        return ["quorum check skipped"];
      },
    });
    await applier.apply(request(yamlOf(...(await controlplane()))));
    const r = await applier.apply(request(yamlOf(...(await controlplane({ installDir: "/opt/plinth" })))));
    assert.equal(r.mode, "reboot");
    assert.deepEqual(r.restartFields, ["MachineConfig.install.dir"]);
    assert.deepEqual(r.warnings, ["quorum check skipped"]);
    assert.deepEqual(checks, ["guard"]);
    assert.deepEqual(
      stored.map((s) => [s.record.revision, s.restart]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  it("staged keeps the config for the next start, which applies it first", async () => {
    const { state, applier, stored, reopen } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp)));
    const r = await applier.apply(
      request(yamlOf(...cp, hostname("staged")), { mode: "staged", appliedBy: "ann" }),
    );
    assert.equal(r.mode, "staged");
    assert.equal(r.record, undefined);
    assert.equal((await currentConfig(state))?.revision, 1);
    assert.match((await stagedConfig(state))?.yaml ?? "", /hostname: staged/);
    applier.close();
    // The next start.
    await reopen().resume();
    const current = await currentConfig(state);
    assert.equal(current?.revision, 2);
    assert.equal(current?.mode, "staged");
    assert.equal(current?.appliedBy, "ann");
    assert.match(current?.yaml ?? "", /hostname: staged/);
    assert.equal(await stagedConfig(state), undefined);
    assert.equal(stored.length, 1, "a staged config taking effect at start is not a live apply");
  });

  it("a live apply discards a staged config, with a warning", async () => {
    const { state, applier } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp)));
    await applier.apply(request(yamlOf(...cp, hostname("staged")), { mode: "staged", appliedBy: "ann" }));
    const r = await applier.apply(request(yamlOf(...cp, hostname("live"))));
    assert.match(r.warnings.join("\n"), /^the config staged at .* by ann was discarded$/m);
    assert.equal(await stagedConfig(state), undefined);
  });

  it("staged and try need a machine that runs a complete config", async () => {
    const { applier } = setup();
    for (const mode of ["staged", "try"] as const) {
      await assert.rejects(
        applier.apply(request(yamlOf(service("x")), { mode })),
        (e) => hasCode(e, "failed_precondition") && /maintenance mode/.test((e as Error).message),
      );
    }
  });

  it("try refuses changes that need a restart and a timeout that is not positive", async () => {
    const { applier } = setup();
    await applier.apply(request(yamlOf(...(await controlplane()))));
    await assert.rejects(
      applier.apply(request(yamlOf(...(await controlplane({ etcdDataDir: "/srv/etcd" }))), { mode: "try" })),
      (e) => hasCode(e, "failed_precondition") && /ClusterConfig\.etcd\.dataDir/.test((e as Error).message),
    );
    await assert.rejects(
      applier.apply(
        request(yamlOf(...(await controlplane()), hostname("t")), { mode: "try", tryTimeoutMs: -5 }),
      ),
      (e) =>
        hasCode(e, "invalid_argument") &&
        /'try_timeout' must be > 0, current value is -5ms/.test((e as Error).message),
    );
  });

  it("try applies the previous config again when its time is up", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.parse("2030-01-01T00:00:00Z") });
    const { state, applier, stored } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp, hostname("before"))));
    const r = await applier.apply(
      request(yamlOf(...cp, hostname("after")), { mode: "try", tryTimeoutMs: 30_000 }),
    );
    assert.equal(r.mode, "try");
    assert.match(r.details, /version 1 comes back in 30s unless confirmed/);
    assert.equal((await configTrial(state))?.deadline, "2030-01-01T00:00:30.000Z");
    mock.timers.tick(29_999);
    await settle();
    assert.equal((await currentConfig(state))?.revision, 2);
    mock.timers.tick(1);
    await settle();
    const current = await currentConfig(state);
    assert.equal(current?.revision, 3);
    assert.match(current?.yaml ?? "", /hostname: before/);
    assert.equal(
      current?.note,
      "rolled back to version 1: the try of version 2 was not confirmed within 30s",
    );
    assert.equal(await configTrial(state), undefined);
    assert.deepEqual(
      stored.map((s) => s.record.revision),
      [1, 2, 3],
    );
  });

  it("try keeps the config once confirmed, and confirming twice is refused", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const { state, applier } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp, hostname("before"))));
    await applier.apply(request(yamlOf(...cp, hostname("after")), { mode: "try", tryTimeoutMs: 30_000 }));
    assert.deepEqual(await applier.confirm(), { revision: 2, details: "config version 2 is kept" });
    mock.timers.tick(60_000);
    await settle();
    assert.equal((await currentConfig(state))?.revision, 2);
    await assert.rejects(applier.confirm(), (e) => hasCode(e, "failed_precondition"));
  });

  it("a second apply confirms the config being tried", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const { state, applier } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp, hostname("before"))));
    await applier.apply(request(yamlOf(...cp, hostname("after")), { mode: "try", tryTimeoutMs: 30_000 }));
    const r = await applier.apply(request(yamlOf(...cp, hostname("later"))));
    assert.deepEqual(r.warnings, ["the config being tried (version 2) is kept: a later apply confirms it"]);
    mock.timers.tick(60_000);
    await settle();
    assert.equal((await currentConfig(state))?.revision, 3);
  });

  it("a try whose time ran out while the agent was down is rolled back at the next start", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const { state, applier, reopen } = setup();
    const cp = await controlplane();
    await applier.apply(request(yamlOf(...cp, hostname("before"))));
    await applier.apply(request(yamlOf(...cp, hostname("after")), { mode: "try", tryTimeoutMs: 30_000 }));
    applier.close();
    mock.timers.tick(45_000);
    await settle();
    assert.equal((await currentConfig(state))?.revision, 2, "a closed applier rolls nothing back");
    await reopen().resume();
    assert.match((await currentConfig(state))?.yaml ?? "", /hostname: before/);
  });
});

describe("config rollback", () => {
  it("applies the config before the current one, or a given version, as a new version", async () => {
    const { state, applier } = setup();
    const cp = await controlplane();
    for (const name of ["one", "two", "three"]) await applier.apply(request(yamlOf(...cp, hostname(name))));
    const r = await applier.rollback({ version: 0, dryRun: false, appliedBy: "bob" });
    assert.equal(r.record?.revision, 4);
    assert.equal(r.record?.note, "rollback to version 2");
    assert.match((await currentConfig(state))?.yaml ?? "", /hostname: two/);
    await applier.rollback({ version: 1, dryRun: false, appliedBy: "bob" });
    const current = await currentConfig(state);
    assert.equal(current?.revision, 5);
    assert.equal(current?.appliedBy, "bob");
    assert.match(current?.yaml ?? "", /hostname: one/);
  });

  it("refuses a version that is not kept, or the current one, and a dry run changes nothing", async () => {
    const { state, applier } = setup({ historyLimit: 2 });
    const cp = await controlplane();
    for (const name of ["one", "two", "three"]) await applier.apply(request(yamlOf(...cp, hostname(name))));
    await assert.rejects(
      applier.rollback({ version: 1, dryRun: false, appliedBy: "bob" }),
      (e) =>
        hasCode(e, "not_found") &&
        (e as Error).message ===
          "Cannot roll back: config version 1 is not in the history of this machine (kept: versions 2–3)",
    );
    await assert.rejects(applier.rollback({ version: 3, dryRun: false, appliedBy: "bob" }), (e) =>
      hasCode(e, "failed_precondition"),
    );
    const dry = await applier.rollback({ version: 2, dryRun: true, appliedBy: "bob" });
    assert.match(dry.diff, /^-hostname: three$/m);
    assert.equal((await currentConfig(state))?.revision, 3);
  });
});
