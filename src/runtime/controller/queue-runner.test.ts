import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { State } from "../state/state.ts";
import type { QueueController } from "./controller.ts";
import { RequeueError } from "./controller.ts";
import type { ControllerRuntime } from "./controller-runtime.ts";
import { createControllerRuntime } from "./controller-runtime.ts";
import { DerivedSpec, LeafSpec, SourceSpec, testState, within } from "./testing/fixtures.ts";

describe("queue controllers", () => {
  let state: State;
  let rt: ControllerRuntime;
  beforeEach(() => {
    state = testState();
    rt = createControllerRuntime({ state, backoff: { initialMs: 10, maxMs: 40, jitter: 0 } });
  });
  afterEach(async () => {
    await rt.stop();
    await state.close();
  });

  /** One DerivedSpec per SourceSpec, reconciled one resource at a time. */
  function perItem(overrides: Partial<QueueController> = {}): QueueController & { seen: string[] } {
    const seen: string[] = [];
    return {
      name: "per-item",
      primary: SourceSpec.kind(),
      outputs: [{ type: "DerivedSpec", kind: "exclusive" }],
      seen,
      async reconcile(ctx, ptr) {
        seen.push(ptr.id);
        const src = await ctx.find(SourceSpec.ptr(ptr.id));
        const out = DerivedSpec.ptr(ptr.id);
        if (!src) {
          if (await ctx.find(out)) {
            await ctx.teardown(out);
            await ctx.destroy(out);
          }
          return;
        }
        await ctx.upsert(
          out,
          (d) => {
            d.spec.value = src.spec.value.toUpperCase();
          },
          { initial: () => ({ value: "" }) },
        );
      },
      ...overrides,
    };
  }

  it("reconciles existing and new resources one at a time, and their removal", async () => {
    await state.create(SourceSpec.make("early", { value: "e" }));
    const c = perItem();
    rt.register(c);
    await rt.start();
    await state.create(SourceSpec.make("late", { value: "l" }));
    await state.waitFor(DerivedSpec.ptr("early"), (r) => r?.spec.value === "E", within());
    await state.waitFor(DerivedSpec.ptr("late"), (r) => r?.spec.value === "L", within());
    await state.teardownAndDestroy(SourceSpec.ptr("late"));
    await state.waitFor(DerivedSpec.ptr("late"), (r) => r === undefined, within());
    assert.ok(c.seen.includes("early") && c.seen.filter((id) => id === "late").length >= 2);
  });

  it("retries a failing resource with backoff without blocking the others", async () => {
    let failures = 2;
    const base = perItem();
    rt.register({
      ...base,
      async reconcile(ctx, ptr) {
        if (ptr.id === "bad" && failures-- > 0) throw new Error("transient");
        return base.reconcile(ctx, ptr);
      },
    });
    await rt.start();
    await state.create(SourceSpec.make("bad", { value: "b" }));
    await state.create(SourceSpec.make("good", { value: "g" }));
    await state.waitFor(DerivedSpec.ptr("good"), (r) => r?.spec.value === "G", within());
    await state.waitFor(DerivedSpec.ptr("bad"), (r) => r?.spec.value === "B", within());
    const errors = (await rt.metrics.getMetricsAsJSON())
      .find((m) => m.name === "plinth_controller_reconcile_errors_total")
      ?.values.find((v) => v.labels.controller === "per-item")?.value;
    assert.equal(errors, 2);
  });

  it("a RequeueError retries later without counting an error", async () => {
    let waits = 3;
    const base = perItem();
    const started = performance.now();
    rt.register({
      ...base,
      async reconcile(ctx, ptr) {
        if (waits-- > 0) throw new RequeueError(15, "waiting for a dependency");
        return base.reconcile(ctx, ptr);
      },
    });
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "x" }));
    await state.waitFor(DerivedSpec.ptr("a"), (r) => r?.spec.value === "X", within());
    assert.ok(performance.now() - started >= 40, "three requeues of 15 ms each happened");
    const errors = (await rt.metrics.getMetricsAsJSON())
      .find((m) => m.name === "plinth_controller_reconcile_errors_total")
      ?.values.find((v) => v.labels.controller === "per-item");
    assert.equal(errors?.value ?? 0, 0);
    assert.throws(() => new RequeueError(-1), /'afterMs' must be >= 0, current value is -1/);
  });

  it("mapped inputs queue the primaries they affect", async () => {
    const base = perItem();
    rt.register({
      ...base,
      name: "mapped",
      // A LeafSpec named "src-<id>" touches the SourceSpec <id>.
      mappedInputs: [
        {
          namespace: "runtime",
          type: "LeafSpec",
          kind: "weak",
          map: (r) => [SourceSpec.ptr(r.metadata.id.replace(/^src-/, ""))],
        },
      ],
    });
    await rt.start();
    await state.create(SourceSpec.make("a", { value: "x" }));
    await state.waitFor(DerivedSpec.ptr("a"), (r) => r?.spec.value === "X", within());
    const before = base.seen.length;
    // Reconciles of "a" are seen by the wrapped reconcile through `seen` of the base object.
    await state.create(LeafSpec.make("src-a", { value: "poke" }));
    const deadline = Date.now() + 2000;
    while (base.seen.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(base.seen.at(-1), "a");
  });

  it("processes up to `concurrency` resources at once", async () => {
    let inflight = 0;
    let peak = 0;
    const base = perItem();
    rt.register({
      ...base,
      concurrency: 3,
      async reconcile(ctx, ptr) {
        inflight++;
        peak = Math.max(peak, inflight);
        await new Promise((r) => setTimeout(r, 10));
        inflight--;
        return base.reconcile(ctx, ptr);
      },
    });
    for (let i = 0; i < 9; i++) await state.create(SourceSpec.make(`r${i}`, { value: "x" }));
    await rt.start();
    await state.waitFor(DerivedSpec.ptr("r8"), (r) => r !== undefined, within());
    assert.equal(peak, 3);
  });
});
