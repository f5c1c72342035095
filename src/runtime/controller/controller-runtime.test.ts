import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { pino } from "pino";
import { hasCode } from "../../errors/plinth-error.ts";
import type { State } from "../state/state.ts";
import type { Controller, ControllerContext } from "./controller.ts";
import { createControllerContext } from "./controller-context.ts";
import type { ControllerRuntime } from "./controller-runtime.ts";
import { createControllerRuntime } from "./controller-runtime.ts";
import { DerivedSpec, LeafSpec, SourceSpec, testState, within } from "./testing/fixtures.ts";

/** SourceSpec → DerivedSpec with the value upper-cased; removes outputs whose source is gone. */
function upperController(name = "upper"): Controller & { runs: number } {
  const c = {
    name,
    runs: 0,
    inputs: [{ namespace: "config", type: "SourceSpec", kind: "weak" }] as const,
    outputs: [{ type: "DerivedSpec", kind: "exclusive" }] as const,
    async reconcile(ctx: ControllerContext) {
      c.runs++;
      const out = ctx.track(DerivedSpec.kind());
      for (const src of await ctx.list(SourceSpec.kind())) {
        const value = (src.spec as { value: string }).value.toUpperCase();
        await out.apply(DerivedSpec.make(src.metadata.id, { value }));
      }
      await out.cleanup();
    },
  };
  return c;
}

async function metricValue(rt: ControllerRuntime, name: string, controller: string): Promise<number> {
  const all = await rt.metrics.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  const v = m?.values.find((x) => x.labels.controller === controller);
  return v?.value ?? 0;
}

describe("controller runtime", () => {
  let state: State;
  let rt: ControllerRuntime;
  beforeEach(() => {
    state = testState();
    rt = createControllerRuntime({ state, backoff: { initialMs: 10, maxMs: 50, jitter: 0 } });
  });
  afterEach(async () => {
    await rt.stop();
    await state.close();
  });

  it("turns inputs into outputs and removes outputs whose input is gone", async () => {
    rt.register(upperController());
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "hello" }));
    const out = await state.waitFor(DerivedSpec.ptr("a"), (r) => r?.spec.value === "HELLO", within());
    assert.equal(out?.metadata.owner, "upper");
    await state.teardownAndDestroy(SourceSpec.ptr("a"));
    await state.waitFor(DerivedSpec.ptr("a"), (r) => r === undefined, within());
  });

  it("coalesces a burst of input changes into few reconciles", async () => {
    const c = upperController();
    rt.register(c);
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "v0" }));
    for (let i = 1; i <= 200; i++) {
      await state.modify(SourceSpec.ptr("a"), (d) => {
        d.spec.value = `v${i}`;
      });
    }
    await state.waitFor(DerivedSpec.ptr("a"), (r) => r?.spec.value === "V200", within());
    assert.ok(c.runs < 50, `expected coalescing, got ${c.runs} runs for 201 changes`);
  });

  it("refuses a second exclusive owner of an output type, naming both controllers", () => {
    rt.register(upperController("first"));
    assert.throws(
      () => rt.register(upperController("second")),
      (err) => hasCode(err, "already_exists") && /DerivedSpec.*first.*second/.test((err as Error).message),
    );
    assert.throws(() => rt.register(upperController("first")), /already registered/);
  });

  it("rejects writes to undeclared outputs and reads of undeclared inputs", async () => {
    const c = upperController();
    const ctx = createControllerContext(c, state, {
      signal: new AbortController().signal,
      log: pino({ level: "silent" }),
    });
    await assert.rejects(
      ctx.create(LeafSpec.make("x", { value: "no" })),
      (err) =>
        hasCode(err, "permission_denied") &&
        /controller upper may not write runtime\/LeafSpec\/x/.test((err as Error).message),
    );
    await assert.rejects(ctx.list(LeafSpec.kind()), (err) => hasCode(err, "permission_denied"));
    await assert.rejects(state.get(LeafSpec.ptr("x")), (err) => hasCode(err, "not_found"));
    const written = await ctx.create(DerivedSpec.make("ok", { value: "yes" }));
    assert.equal(written.metadata.owner, "upper");
    await assert.rejects(
      state.update(written),
      (err) => hasCode(err, "owner_conflict"),
      "a user may not overwrite a controller's output",
    );
  });

  it("restarts a failing controller with backoff and keeps the others running", async () => {
    let failures = 3;
    const times: number[] = [];
    const flaky: Controller = {
      name: "flaky",
      inputs: [{ namespace: "config", type: "SourceSpec", kind: "weak" }],
      outputs: [{ type: "LeafSpec", kind: "exclusive" }],
      async reconcile(ctx) {
        times.push(performance.now());
        if (failures-- > 0) throw new Error("boom");
        await ctx.track(LeafSpec.kind()).apply(LeafSpec.make("done", { value: "ok" }));
      },
    };
    rt.register(flaky, upperController());
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "x" }));
    await state.waitFor(DerivedSpec.ptr("a"), (r) => r?.spec.value === "X", within());
    await state.waitFor(LeafSpec.ptr("done"), (r) => r !== undefined, within());
    assert.equal(await metricValue(rt, "plinth_controller_reconcile_errors_total", "flaky"), 3);
    assert.ok((await metricValue(rt, "plinth_controller_reconciles_total", "flaky")) >= 4);
    const metricsText = await rt.metrics.metrics();
    assert.match(metricsText, /plinth_controller_reconcile_duration_seconds_count\{controller="upper"\} \d+/);
  });

  it("reports controllers whose latest reconcile failed until they succeed", async () => {
    let failing = true;
    const gate: Controller = {
      name: "gate",
      inputs: [{ namespace: "config", type: "SourceSpec", kind: "weak" }],
      outputs: [{ type: "LeafSpec", kind: "exclusive" }],
      async reconcile(ctx) {
        if (failing) throw new Error("not yet");
        await ctx.track(LeafSpec.kind()).apply(LeafSpec.make("gate", { value: "ok" }));
      },
    };
    rt.register(gate, upperController());
    await rt.start();
    const deadline = Date.now() + 5000;
    while (rt.failing().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(rt.failing(), [{ name: "gate", error: "not yet" }]);
    failing = false;
    await state.waitFor(LeafSpec.ptr("gate"), (r) => r !== undefined, within());
    // The run that wrote it ends just after.
    while (rt.failing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(rt.failing(), []);
  });

  it("backs off exponentially between failed runs", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const slow = createControllerRuntime({ state, backoff: { initialMs: 100, maxMs: 1000, jitter: 0 } });
    let runs = 0;
    slow.register({
      name: "always-fails",
      inputs: [],
      outputs: [],
      async reconcile() {
        runs++;
        throw new Error("still broken");
      },
    });
    await slow.start();
    const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    await settle();
    assert.equal(runs, 1);
    const expected = [100, 200, 400, 800, 1000, 1000];
    for (const [i, delay] of expected.entries()) {
      t.mock.timers.tick(delay - 1);
      await settle();
      assert.equal(runs, i + 1, `no retry before ${delay} ms`);
      t.mock.timers.tick(1);
      await settle();
      assert.equal(runs, i + 2, `retry after ${delay} ms`);
    }
    await slow.stop();
  });

  it("reconciles again after requeueAfterMs without input changes", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let runs = 0;
    rt.register({
      name: "poller",
      inputs: [],
      outputs: [],
      async reconcile() {
        runs++;
        return { requeueAfterMs: 1000 };
      },
    });
    await rt.start();
    const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    await settle();
    assert.equal(runs, 1);
    t.mock.timers.tick(999);
    await settle();
    assert.equal(runs, 1);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(runs, 2);
  });

  it("tears outputs down, lets finalizers clean up dependents, then destroys", async () => {
    const events: string[] = [];
    // Owner of DerivedSpec; woken when one of its torn-down outputs has no finalizers left.
    const owner: Controller = {
      ...upperController("owner"),
      inputs: [
        { namespace: "config", type: "SourceSpec", kind: "weak" },
        { namespace: "runtime", type: "DerivedSpec", kind: "destroyReady" },
      ],
    };
    // Builds a LeafSpec per DerivedSpec and holds a finalizer on it while the leaf exists.
    const dependent: Controller = {
      name: "dependent",
      inputs: [{ namespace: "runtime", type: "DerivedSpec", kind: "strong" }],
      outputs: [{ type: "LeafSpec", kind: "exclusive" }],
      async reconcile(ctx) {
        for (const d of await ctx.list(DerivedSpec.kind())) {
          const ptr = DerivedSpec.ptr(d.metadata.id);
          const leaf = LeafSpec.ptr(d.metadata.id);
          if (d.metadata.phase === "tearingDown") {
            if (await ctx.find(leaf)) {
              await ctx.teardown(leaf);
              await ctx.destroy(leaf);
              events.push(`leaf ${d.metadata.id} destroyed`);
            }
            if (d.metadata.finalizers.includes(ctx.name)) await ctx.removeFinalizer(ptr);
            continue;
          }
          if (!d.metadata.finalizers.includes(ctx.name)) await ctx.addFinalizer(ptr);
          await ctx.upsert(leaf, (x) => void x, {
            initial: () => ({ value: (d.spec as { value: string }).value }),
          });
        }
      },
    };
    rt.register(owner, dependent);
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "x" }));
    await state.waitFor(LeafSpec.ptr("a"), (r) => r !== undefined, within());
    await state.waitFor(
      DerivedSpec.ptr("a"),
      (r) => r?.metadata.finalizers.includes("dependent") === true,
      within(),
    );

    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of state.watch(DerivedSpec.ptr("a"), within())) {
        if (e.type === "updated" && e.resource.metadata.phase === "tearingDown")
          seen.push("derived tearingDown");
        if (e.type === "destroyed") {
          seen.push("derived destroyed");
          events.push("derived destroyed");
          break;
        }
      }
    })();
    await state.teardownAndDestroy(SourceSpec.ptr("a"));
    await watching;
    assert.equal(await state.find(LeafSpec.ptr("a")), undefined);
    assert.deepEqual(events, ["leaf a destroyed", "derived destroyed"]);
    assert.equal(seen[0], "derived tearingDown");
  });

  it("orders controllers producers first and prints the graph", () => {
    const leaf: Controller = {
      name: "leaf",
      inputs: [{ namespace: "runtime", type: "DerivedSpec", kind: "strong" }],
      outputs: [{ type: "LeafSpec", kind: "exclusive" }],
      async reconcile() {},
    };
    rt.register(leaf, upperController());
    const g = rt.graph();
    assert.deepEqual(g.order, ["upper", "leaf"]);
    assert.deepEqual(g.edges, [{ from: "upper", to: "leaf", type: "DerivedSpec", kind: "strong" }]);
    assert.match(g.toDot(), /"upper" -> "leaf" \[label="DerivedSpec"\];/);
  });

  it("stop waits for a running reconcile and runs no more", async () => {
    let release!: () => void;
    let runs = 0;
    let finished = false;
    rt.register({
      name: "slow",
      inputs: [{ namespace: "config", type: "SourceSpec", kind: "weak" }],
      outputs: [],
      async reconcile() {
        runs++;
        if (runs === 2) {
          await new Promise<void>((r) => {
            release = r;
          });
          finished = true;
        }
      },
    });
    await rt.start();
    await new Promise((r) => setTimeout(r, 20));
    await state.create(SourceSpec.make("a", { value: "x" }));
    while (runs < 2) await new Promise((r) => setTimeout(r, 5));
    const stopping = rt.stop();
    setTimeout(() => release(), 30);
    await stopping;
    assert.equal(finished, true);
    await state.create(SourceSpec.make("b", { value: "y" }));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(runs, 2);
  });
});

describe("controller triggers", () => {
  it("trigger reconciles a controller whose inputs did not change", async () => {
    const state = testState();
    const rt = createControllerRuntime({ state });
    let runs = 0;
    rt.register({
      name: "host-watcher",
      inputs: [],
      outputs: [],
      async reconcile() {
        runs++;
      },
    });
    await rt.start();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(runs, 1);
    rt.trigger("host-watcher");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(runs, 2);
    assert.throws(() => rt.trigger("nobody"), /cannot trigger controller nobody/);
    await rt.stop();
    await state.close();
  });
});

describe("controller stop", () => {
  it("a run still going when stop() is called leaves no requeue timer behind", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const state = testState();
    const rt = createControllerRuntime({ state });
    let release!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    rt.register({
      name: "slow-poller",
      inputs: [],
      outputs: [],
      async reconcile() {
        started();
        await new Promise<void>((r) => {
          release = r;
        });
        return { requeueAfterMs: 60_000 };
      },
    });
    const before = timers();
    await rt.start();
    await running;
    const stopping = rt.stop();
    release();
    await stopping;
    await new Promise((r) => setImmediate(r));
    assert.equal(timers(), before, "no timer outlives the runtime");
    await state.close();
  });
});
