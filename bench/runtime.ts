// Runtime benchmarks: in-memory state throughput, watch fan-out, a controller chain, durable writes.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { Controller } from "../src/runtime/controller/controller.ts";
import { createControllerRuntime } from "../src/runtime/controller/controller-runtime.ts";
import { defineResource, type ResourceDefinition } from "../src/runtime/resource/definition.ts";
import { createRegistry } from "../src/runtime/resource/registry.ts";
import type { Resource } from "../src/runtime/resource/resource.ts";
import { createMemoryState } from "../src/runtime/state/backends/memory/memory-state.ts";
import type { CoreState } from "../src/runtime/state/core-state.ts";
import { type State, wrapCore } from "../src/runtime/state/state.ts";
import { withValidation } from "../src/runtime/state/validating-state.ts";
import { type BenchOptions, type Figure, percentile, printFigures, round } from "./harness.ts";

const spec = z.strictObject({ value: z.string(), n: z.number().int() });
type Spec = z.infer<typeof spec>;
const Item = defineResource({ type: "BenchItem", namespace: "bench", schema: spec });
const stages: ResourceDefinition<Spec>[] = Array.from({ length: 6 }, (_, i) =>
  defineResource({ type: `BenchStage${i}`, namespace: "bench", schema: spec }),
);
const registry = createRegistry([Item, ...stages]);

function stateOver(core: CoreState): State {
  return wrapCore(withValidation(core, registry));
}

/** Mixed create/update/get through the validating state, one process, one caller at a time. */
export async function memoryOps(): Promise<number> {
  const state = stateOver(createMemoryState());
  const live: Resource<Spec>[] = [];
  for (let i = 0; i < 10_000; i++)
    live.push(await state.create(Item.make(`seed-${i}`, { value: "x", n: i })));
  const total = 300_000;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const slot = i % live.length;
    switch (i % 3) {
      case 0:
        await state.get(Item.ptr(live[slot]!.metadata.id));
        break;
      case 1: {
        const cur = live[slot]!;
        live[slot] = await state.update({ metadata: cur.metadata, spec: { value: "y", n: i } });
        break;
      }
      default:
        await state.create(Item.make(`new-${i}`, { value: "z", n: i }));
    }
  }
  const secs = (performance.now() - start) / 1000;
  await state.close();
  return total / secs;
}

/** One update delivered to 1,000 watchers: latency from the write to each watcher's receipt. */
export async function watchFanout(): Promise<number> {
  const state = stateOver(createMemoryState());
  let current = await state.create(Item.make("hot", { value: "x", n: 0 }));
  const watchers = 1000;
  const rounds = 100;
  const samples: number[] = [];
  let sentAt = 0;
  let received = 0;
  let roundDone: () => void = () => {};
  const ac = new AbortController();
  for (let w = 0; w < watchers; w++) {
    void (async () => {
      for await (const e of state.watchKind(Item.kind(), { signal: ac.signal })) {
        if (e.type !== "updated") continue;
        samples.push(performance.now() - sentAt);
        if (++received === watchers) roundDone();
      }
    })();
  }
  await new Promise((r) => setTimeout(r, 10));
  for (let i = 1; i <= rounds; i++) {
    received = 0;
    const done = new Promise<void>((r) => {
      roundDone = r;
    });
    sentAt = performance.now();
    current = await state.update({ metadata: current.metadata, spec: { value: "x", n: i } });
    await done;
  }
  ac.abort();
  await state.close();
  return percentile(samples, 99);
}

/** An input change through a chain of 5 controllers to the last output. */
export async function chain(): Promise<number> {
  const state = stateOver(createMemoryState());
  const runtime = createControllerRuntime({ state });
  for (let i = 1; i <= 5; i++) {
    const from = stages[i - 1]!;
    const to = stages[i]!;
    const c: Controller = {
      name: `stage-${i}`,
      inputs: [{ namespace: "bench", type: from.type, kind: "weak" }],
      outputs: [{ type: to.type, kind: "exclusive" }],
      async reconcile(ctx) {
        const src = await ctx.find(from.ptr("x"));
        if (src) await ctx.track(to.kind()).apply(to.make("x", src.spec));
      },
    };
    runtime.register(c);
  }
  await runtime.start();
  let input = await state.create(stages[0]!.make("x", { value: "x", n: 0 }));
  const last = stages[5]!;
  const samples: number[] = [];
  const ac = new AbortController();
  let waitingFor = 0;
  let arrived: () => void = () => {};
  void (async () => {
    for await (const e of state.watch(last.ptr("x"), { signal: ac.signal })) {
      if (e.type !== "bootstrapped" && (e.resource.spec as Spec).n === waitingFor) arrived();
    }
  })();
  for (let i = 1; i <= 500; i++) {
    waitingFor = i;
    const done = new Promise<void>((r) => {
      arrived = r;
    });
    const t0 = performance.now();
    input = await state.update({ metadata: input.metadata, spec: { value: "x", n: i } });
    await done;
    if (i > 20) samples.push(performance.now() - t0);
  }
  ac.abort();
  await runtime.stop();
  await state.close();
  return percentile(samples, 99);
}

/** Durable updates on the sqlite backend, 256 in flight (each acknowledged after fsync). */
async function sqliteOps(): Promise<number> {
  const { createSqliteState } = await import("../src/runtime/state/backends/sqlite/sqlite-state.ts");
  const dir = await mkdtemp(join(tmpdir(), "plinth-bench-"));
  try {
    const state = stateOver(createSqliteState({ path: join(dir, "state.db") }));
    const inflight = 256;
    const live: Resource<Spec>[] = await Promise.all(
      Array.from({ length: inflight }, (_, i) => state.create(Item.make(`r${i}`, { value: "x", n: 0 }))),
    );
    const perWorker = 100;
    const start = performance.now();
    await Promise.all(
      live.map(async (_, slot) => {
        for (let i = 0; i < perWorker; i++) {
          const cur = live[slot]!;
          live[slot] = await state.update({ metadata: cur.metadata, spec: { value: "y", n: i } });
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    await state.close();
    return (inflight * perWorker) / secs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runtimeBench(_options: BenchOptions): Promise<Record<string, number>> {
  const memoryOpsPerSec = Math.round(await memoryOps());
  const watchFanoutP99Ms = round(await watchFanout());
  const chainP99Ms = round(await chain());
  const sqliteOpsPerSec = Math.round(await sqliteOps());
  const figures: Figure[] = [
    {
      key: "memoryOpsPerSec",
      label: "memory state, mixed create/update/get",
      value: memoryOpsPerSec,
      unit: "ops/s",
      target: { value: 300_000, higherIsBetter: true },
    },
    {
      key: "watchFanoutP99Ms",
      label: "one update to 1,000 watchers, p99",
      value: watchFanoutP99Ms,
      unit: "ms",
      target: { value: 5, higherIsBetter: false },
    },
    {
      key: "chainP99Ms",
      label: "change through 5 controllers, p99",
      value: chainP99Ms,
      unit: "ms",
      target: { value: 2, higherIsBetter: false },
    },
    {
      key: "sqliteOpsPerSec",
      label: "sqlite durable updates (fsync per batch)",
      value: sqliteOpsPerSec,
      unit: "ops/s",
      target: { value: 20_000, higherIsBetter: true },
    },
  ];
  printFigures("runtime", figures);
  return { memoryOpsPerSec, watchFanoutP99Ms, chainP99Ms, sqliteOpsPerSec };
}
