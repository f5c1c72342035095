// The deterministic write sequence of the crash test, shared by the writer child process and the
// test that checks what survived. Operation n (from 1) is exactly one write, so it is the write
// that moves the state to revision n: the revision a restarted state reports says how many
// operations it holds.
import type { AnyResource, Phase } from "../../../resource/resource.ts";
import { TestSpec } from "../../conformance/test-resources.ts";
import type { CoreState } from "../../core-state.ts";

export const crashOwner = "crash-writer";
const ids = ["r0", "r1", "r2", "r3", "r4", "r5"];

export interface ModelEntry {
  readonly version: number;
  readonly phase: Phase;
  readonly spec: { readonly value: string; readonly count: number };
}
/** What the state must hold after some operations: id → entry. */
export type Model = Map<string, ModelEntry>;

export type Operation =
  | { readonly n: number; readonly kind: "create"; readonly id: string }
  | {
      readonly n: number;
      readonly kind: "update" | "teardown";
      readonly id: string;
      readonly version: number;
    }
  | { readonly n: number; readonly kind: "destroy"; readonly id: string };

function mix(n: number): number {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Operation n, given the model after operations 1 … n - 1. */
export function operation(n: number, model: Model): Operation {
  const h = mix(n);
  const id = ids[h % ids.length]!;
  const current = model.get(id);
  if (!current) return { n, kind: "create", id };
  if (current.phase === "tearingDown") return { n, kind: "destroy", id };
  return { n, kind: (h >>> 8) % 6 === 0 ? "teardown" : "update", id, version: current.version };
}

export function applyOperation(model: Model, op: Operation): void {
  const current = model.get(op.id);
  switch (op.kind) {
    case "create":
      model.set(op.id, { version: 1, phase: "running", spec: { value: `op${op.n}`, count: op.n } });
      return;
    case "update":
      model.set(op.id, {
        version: op.version + 1,
        phase: "running",
        spec: { value: `op${op.n}`, count: op.n },
      });
      return;
    case "teardown":
      model.set(op.id, { ...current!, version: op.version + 1, phase: "tearingDown" });
      return;
    case "destroy":
      model.delete(op.id);
  }
}

/**
 * Issues operation n against the state. The write is applied when this is called (its promise
 * settles when it is durable), so operations issued one after the other apply in order.
 */
export function runOperation(state: CoreState, op: Operation, model: Model): Promise<unknown> {
  const owner = { owner: crashOwner };
  if (op.kind === "destroy") return state.destroy(TestSpec.ptr(op.id), owner);
  const before = model.get(op.id);
  const spec = op.kind === "teardown" ? before!.spec : { value: `op${op.n}`, count: op.n };
  const draft = TestSpec.make(op.id, spec);
  if (op.kind === "create") return state.create(draft, owner);
  const phase: Phase = op.kind === "teardown" ? "tearingDown" : "running";
  return state.update({ ...draft, metadata: { ...draft.metadata, version: op.version, phase } }, owner);
}

/** The model a state's resources describe. */
export function modelOf(resources: readonly AnyResource[]): Model {
  const model: Model = new Map();
  for (const r of resources) {
    model.set(r.metadata.id, {
      version: r.metadata.version,
      phase: r.metadata.phase,
      spec: r.spec as ModelEntry["spec"],
    });
  }
  return model;
}

/** The revision a state stands at, from the bookmark that ends a bootstrapped watch. */
export async function revisionOf(state: CoreState): Promise<number> {
  for await (const e of state.watchKind(TestSpec.kind(), { bootstrapContents: true })) {
    if (e.type === "bootstrapped") return Number(e.bookmark);
  }
  throw new Error("watch ended before it was bootstrapped");
}
