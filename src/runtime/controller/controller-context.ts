import type { Logger } from "pino";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { AnyResource, Kind, Pointer, Resource } from "../resource/resource.ts";
import { formatPointer } from "../resource/resource.ts";
import type { State } from "../state/state.ts";
import type { AnyController, ControllerContext, OutputTracker } from "./controller.ts";
import { inputsOf } from "./controller.ts";

/**
 * The state as one controller may use it. Reads are limited to declared inputs and outputs,
 * writes to declared outputs and carry the controller's name as owner, so one controller can
 * never overwrite another's resources.
 */
export function createControllerContext(
  controller: AnyController,
  state: State,
  options: { signal: AbortSignal; log: Logger },
): ControllerContext {
  const owner = controller.name;
  const inputs = inputsOf(controller);
  const outputTypes = new Set(controller.outputs.map((o) => o.type));
  const inputMatches = (p: Pointer | Kind) =>
    inputs.some(
      (i) =>
        i.type === p.type &&
        i.namespace === p.namespace &&
        (i.id === undefined || !("id" in p) || i.id === (p as Pointer).id),
    );

  function denied(what: string, p: Pointer | Kind, why: string): PlinthError {
    const name = "id" in p ? formatPointer(p as Pointer) : `${p.namespace}/${p.type}`;
    return new PlinthError("permission_denied", `controller ${owner} may not ${what} ${name}: ${why}`);
  }
  function checkRead(p: Pointer | Kind): void {
    if (!outputTypes.has(p.type) && !inputMatches(p))
      throw denied("read", p, "not a declared input or output");
  }
  function checkWrite(p: Pointer | Kind): void {
    if (!outputTypes.has(p.type)) throw denied("write", p, "not a declared output");
  }
  function checkFinalizer(p: Pointer): void {
    if (!inputMatches(p)) throw denied("put finalizers on", p, "not a declared input");
  }
  const signal = options.signal;

  const ctx: ControllerContext = {
    name: owner,
    signal,
    log: options.log,
    async get(ptr, o) {
      checkRead(ptr);
      return state.get(ptr, { signal, ...o });
    },
    async find(ptr, o) {
      checkRead(ptr);
      return state.find(ptr, { signal, ...o });
    },
    async list(kind, o) {
      checkRead(kind);
      return state.list(kind, { signal, ...o });
    },
    async create(r) {
      checkWrite(r.metadata);
      return state.create(r, { owner, signal });
    },
    async update(r, o) {
      checkWrite(r.metadata);
      return state.update(r, { ...o, owner, signal });
    },
    async modify(ptr, change) {
      checkWrite(ptr);
      return state.modify(ptr, change, { owner, signal });
    },
    async upsert(ptr, change, o) {
      checkWrite(ptr);
      return state.upsert(ptr, change, { ...o, owner, signal });
    },
    async teardown(ptr) {
      checkWrite(ptr);
      return state.teardown(ptr, { owner, signal });
    },
    async destroy(ptr) {
      checkWrite(ptr);
      return state.destroy(ptr, { owner, signal });
    },
    async addFinalizer(ptr, finalizers = [owner]) {
      checkFinalizer(ptr);
      return state.addFinalizer(ptr, finalizers, { signal });
    },
    async removeFinalizer(ptr, finalizers = [owner]) {
      checkFinalizer(ptr);
      return state.removeFinalizer(ptr, finalizers, { signal });
    },
    track(kind) {
      checkWrite(kind);
      return createOutputTracker(kind, state, owner, signal);
    },
  };
  return ctx;
}

function createOutputTracker(kind: Kind, state: State, owner: string, signal: AbortSignal): OutputTracker {
  const touched = new Set<string>();
  return {
    async apply<S>(r: Resource<S>): Promise<Resource<S>> {
      if (r.metadata.type !== kind.type || r.metadata.namespace !== kind.namespace) {
        throw new PlinthError(
          "invalid_argument",
          `output tracker for ${kind.namespace}/${kind.type} got ${formatPointer(r.metadata)}`,
        );
      }
      touched.add(r.metadata.id);
      const ptr = { namespace: r.metadata.namespace, type: r.metadata.type, id: r.metadata.id } as Pointer<S>;
      return state.upsert(
        ptr,
        (d) => {
          d.spec = structuredClone(r.spec);
          d.metadata.labels = { ...r.metadata.labels };
          d.metadata.annotations = { ...r.metadata.annotations };
        },
        { owner, signal, initial: () => r.spec },
      );
    },
    async cleanup() {
      let waiting = 0;
      const existing: AnyResource[] = await state.list(kind, { signal });
      for (const r of existing) {
        if (r.metadata.owner !== owner || touched.has(r.metadata.id)) continue;
        const ptr = { ...kind, id: r.metadata.id };
        const ready =
          r.metadata.phase === "tearingDown"
            ? r.metadata.finalizers.length === 0
            : await state.teardown(ptr, { owner, signal });
        if (ready) await state.destroy(ptr, { owner, signal });
        else waiting++;
      }
      return waiting;
    },
  };
}
