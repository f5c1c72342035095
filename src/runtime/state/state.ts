import { hasCode, isConflict, isNotFound, PlinthError } from "../../errors/plinth-error.ts";
import type { AnyResource, MutableMetadata, Pointer, Resource } from "../resource/resource.ts";
import { copyResource, formatPointer, newResource } from "../resource/resource.ts";
import type { CoreState, ReadOptions, UpdateOptions, WatchOptions, WriteOptions } from "./core-state.ts";

/** A resource handed to a modify callback: a private copy the callback may change. */
export type Draft<S> = { metadata: MutableMetadata; spec: S };

export interface ModifyOptions extends UpdateOptions {
  /** How often a version conflict is retried before giving up; default 16. */
  readonly retries?: number;
}

export interface UpsertOptions<S> extends ModifyOptions {
  /** Initial spec when the resource does not exist yet. */
  readonly initial: () => S;
}

export interface WaitForOptions extends WatchOptions {}

/** The State every caller uses: the core plus helpers written once for every backend. */
export interface State extends CoreState {
  /** get, or undefined when not found. */
  find<S>(ptr: Pointer<S>, options?: ReadOptions): Promise<Resource<S> | undefined>;
  /**
   * Read, change a copy, write; retried on version conflicts. Skips the write when nothing
   * changed. Returns the stored resource.
   */
  modify<S>(
    ptr: Pointer<S>,
    change: (draft: Draft<S>) => void,
    options?: ModifyOptions,
  ): Promise<Resource<S>>;
  /** modify, creating the resource from `initial` first when it does not exist. */
  upsert<S>(
    ptr: Pointer<S>,
    change: (draft: Draft<S>) => void,
    options: UpsertOptions<S>,
  ): Promise<Resource<S>>;
  /** Moves to phase tearingDown; resolves true when no finalizers are left (ready to destroy). */
  teardown(ptr: Pointer, options?: WriteOptions): Promise<boolean>;
  /** Teardown then destroy; fails with conflict while finalizers are pending. */
  teardownAndDestroy(ptr: Pointer, options?: WriteOptions): Promise<void>;
  /** Finalizers may be added by anyone (not only the owner), only while the resource runs. */
  addFinalizer(ptr: Pointer, finalizers: readonly string[], options?: ReadOptions): Promise<AnyResource>;
  removeFinalizer(ptr: Pointer, finalizers: readonly string[], options?: ReadOptions): Promise<AnyResource>;
  /** Resolves with the first state of the resource that satisfies the predicate. */
  waitFor<S>(
    ptr: Pointer<S>,
    predicate: (r: Resource<S> | undefined) => boolean,
    options?: WaitForOptions,
  ): Promise<Resource<S> | undefined>;
}

function sameContent(a: AnyResource, b: Draft<unknown>): boolean {
  return (
    a.metadata.phase === b.metadata.phase &&
    JSON.stringify(a.spec) === JSON.stringify(b.spec) &&
    JSON.stringify(a.metadata.labels) === JSON.stringify(b.metadata.labels) &&
    JSON.stringify(a.metadata.annotations) === JSON.stringify(b.metadata.annotations) &&
    JSON.stringify(a.metadata.finalizers) === JSON.stringify(b.metadata.finalizers)
  );
}

export function wrapCore(core: CoreState): State {
  if (isState(core)) return core;

  async function modify<S>(
    ptr: Pointer<S>,
    change: (draft: Draft<S>) => void,
    options: ModifyOptions = {},
  ): Promise<Resource<S>> {
    const retries = options.retries ?? 16;
    for (let attempt = 0; ; attempt++) {
      const current = await core.get(ptr, options);
      const draft = copyResource(current);
      change(draft);
      if (sameContent(current, draft)) return current;
      try {
        return await core.update(draft as Resource<S>, options);
      } catch (err) {
        if (!isConflict(err) || attempt >= retries) throw err;
      }
    }
  }

  async function upsert<S>(
    ptr: Pointer<S>,
    change: (draft: Draft<S>) => void,
    options: UpsertOptions<S>,
  ): Promise<Resource<S>> {
    for (let attempt = 0; ; attempt++) {
      if (!(await find(ptr, options))) {
        const draft = copyResource(newResource(ptr, options.initial()));
        change(draft);
        try {
          return await core.create(draft as Resource<S>, options);
        } catch (err) {
          if (!hasCode(err, "already_exists") || attempt >= 16) throw err;
          continue;
        }
      }
      try {
        return await modify(ptr, change, options);
      } catch (err) {
        if (!isNotFound(err) || attempt >= 16) throw err;
      }
    }
  }

  async function find<S>(ptr: Pointer<S>, options?: ReadOptions): Promise<Resource<S> | undefined> {
    try {
      return await core.get(ptr, options);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Finalizer edits keep the stored owner: they are not the owner's writes. */
  async function editFinalizers(
    ptr: Pointer,
    edit: (list: string[]) => string[],
    options: ReadOptions & { requireRunning: boolean },
  ): Promise<AnyResource> {
    for (let attempt = 0; ; attempt++) {
      const current = await core.get(ptr, options);
      if (options.requireRunning && current.metadata.phase !== "running") {
        throw new PlinthError(
          "phase_conflict",
          `cannot add a finalizer to ${formatPointer(ptr)}: it is being torn down`,
        );
      }
      const draft = copyResource(current);
      draft.metadata.finalizers = edit(draft.metadata.finalizers);
      if (sameContent(current, draft)) return current;
      try {
        return await core.update(draft, { owner: current.metadata.owner, expectedPhase: "any" });
      } catch (err) {
        if (!isConflict(err) || attempt >= 16) throw err;
      }
    }
  }

  const state: State = {
    get: (ptr, o) => core.get(ptr, o),
    list: (kind, o) => core.list(kind, o),
    create: (r, o) => core.create(r, o),
    update: (r, o) => core.update(r, o),
    destroy: (p, o) => core.destroy(p, o),
    watch: (p, o) => core.watch(p, o),
    watchKind: (k, o) => core.watchKind(k, o),
    close: () => core.close(),
    find,
    modify,
    upsert,
    async teardown(ptr, options) {
      const r = await modify(
        ptr,
        (d) => {
          d.metadata.phase = "tearingDown";
        },
        { ...options, expectedPhase: "any" },
      );
      return r.metadata.finalizers.length === 0;
    },
    async teardownAndDestroy(ptr, options) {
      await state.teardown(ptr, options);
      await core.destroy(ptr, options);
    },
    addFinalizer: (ptr, finalizers, options) =>
      editFinalizers(ptr, (list) => [...new Set([...list, ...finalizers])], {
        ...options,
        requireRunning: true,
      }),
    removeFinalizer: (ptr, finalizers, options) =>
      editFinalizers(ptr, (list) => list.filter((f) => !finalizers.includes(f)), {
        ...options,
        requireRunning: false,
      }),
    async waitFor(ptr, predicate, options = {}) {
      const controller = new AbortController();
      const signal = options.signal
        ? AbortSignal.any([options.signal, controller.signal])
        : controller.signal;
      let current: AnyResource | undefined;
      try {
        for await (const e of core.watch(ptr, { ...options, signal })) {
          if (e.type === "created" || e.type === "updated") current = e.resource;
          else if (e.type === "destroyed") current = undefined;
          // Before "bootstrapped", a single resource's watch has told its current state.
          if (predicate(current as Resource<never> | undefined)) return current as Resource<never>;
        }
      } finally {
        controller.abort();
      }
      throw new PlinthError("canceled", `stopped waiting for ${formatPointer(ptr)}`, {
        cause: options.signal?.reason,
      });
    },
  };
  stateMarker.add(state);
  return state;
}

const stateMarker = new WeakSet<object>();
function isState(core: CoreState): core is State {
  return stateMarker.has(core);
}
