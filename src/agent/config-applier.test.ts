import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixtures, yamlOf } from "../config/testing/fixtures.ts";
import { hasCode } from "../errors/plinth-error.ts";
import { createRegistry } from "../runtime/resource/registry.ts";
import { createMemoryState } from "../runtime/state/backends/memory/memory-state.ts";
import { wrapCore } from "../runtime/state/state.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { createConfigApplier } from "./config-applier.ts";
import { configHistory, currentConfig, historyLimit } from "./config-store.ts";
import { agentResources } from "./resources/index.ts";

const service = (name: string) => ({
  apiVersion: "v1alpha1",
  kind: "Service",
  name,
  command: "/bin/sleep",
  args: ["60"],
});

function setup() {
  const state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
  return { state, applier: createConfigApplier({ state, mode: "local" }) };
}

const request = (
  yaml: string,
  extra: Partial<Parameters<ReturnType<typeof createConfigApplier>["apply"]>[0]> = {},
) => ({
  yaml,
  mode: "auto" as const,
  dryRun: false,
  appliedBy: "admin",
  ...extra,
});

describe("config applier", () => {
  it("accepts a partial config in maintenance mode and stays there", async () => {
    const { state, applier } = setup();
    const r = await applier.apply(request(yamlOf(service("web"))));
    assert.deepEqual(r.warnings, ["the config is partial: the machine stays in maintenance mode"]);
    assert.equal((await currentConfig(state))?.complete, false);
  });

  it("once complete, refuses a partial config and keeps the stored one", async () => {
    const { state, applier } = setup();
    const { controlplane } = await fixtures();
    await applier.apply(request(yamlOf(...controlplane)));
    await assert.rejects(applier.apply(request(yamlOf(service("web")))), (e) =>
      hasCode(e, "invalid_argument"),
    );
    const stored = await currentConfig(state);
    assert.equal(stored?.revision, 1);
    assert.equal(stored?.complete, true);
  });

  it("a dry run returns the diff and stores nothing", async () => {
    const { state, applier } = setup();
    const { controlplane } = await fixtures();
    const r = await applier.apply(request(yamlOf(...controlplane), { dryRun: true }));
    assert.match(r.diff, /^\+kind: ClusterConfig$/m);
    assert.equal(r.record, undefined);
    assert.equal(await currentConfig(state), undefined);
  });

  it("answers a concurrent apply with failed_precondition, never a half-merged state", async () => {
    const { state, applier } = setup();
    const { controlplane } = await fixtures();
    const results = await Promise.allSettled([
      applier.apply(request(yamlOf(...controlplane))),
      applier.apply(request(yamlOf(...controlplane, service("other")))),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.ok(hasCode((results[1] as PromiseRejectedResult).reason, "failed_precondition"));
    assert.equal((await configHistory(state)).length, 1);
  });

  it("refuses modes it cannot honour and configs without a way to get an API certificate", async () => {
    const { applier } = setup();
    const { worker } = await fixtures();
    await assert.rejects(applier.apply(request(yamlOf(service("x")), { mode: "staged" })), (e) =>
      hasCode(e, "unimplemented"),
    );
    await assert.rejects(
      applier.apply(request(yamlOf(...worker))),
      (e) => hasCode(e, "failed_precondition") && /trust needs 'certificate'/.test((e as Error).message),
    );
  });

  it("keeps a bounded history, newest first, with who applied each config", async () => {
    const { state, applier } = setup();
    const { controlplane } = await fixtures();
    for (let i = 0; i < historyLimit + 3; i++) {
      await applier.apply(request(yamlOf(...controlplane, service(`s${i}`)), { appliedBy: `user-${i}` }));
    }
    const history = await configHistory(state);
    assert.equal(history.length, historyLimit);
    assert.equal(history[0]?.revision, historyLimit + 3);
    assert.equal(history[0]?.appliedBy, `user-${historyLimit + 2}`);
    assert.equal((await configHistory(state, 2)).length, 2);
  });
});
