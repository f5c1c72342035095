import type { LabelQuery } from "../resource/label-query.ts";
import type { AnyResource, Kind, Phase, Pointer, Resource } from "../resource/resource.ts";

export interface ReadOptions {
  readonly signal?: AbortSignal;
}

export interface ListOptions extends ReadOptions {
  readonly labelQuery?: LabelQuery;
}

export interface WriteOptions {
  /** The writer's identity (a controller name); "" or absent for user writes. */
  readonly owner?: string;
  readonly signal?: AbortSignal;
}

export interface UpdateOptions extends WriteOptions {
  /** The phase the stored resource must be in; default "running". */
  readonly expectedPhase?: Phase | "any";
}

/**
 * Watch events, in the order the state applied them. `bookmark` is an opaque position: a watch
 * started from it resumes right after that event.
 */
export type WatchEvent =
  | { readonly type: "created"; readonly resource: AnyResource; readonly bookmark: string }
  | {
      readonly type: "updated";
      readonly resource: AnyResource;
      readonly old: AnyResource;
      readonly bookmark: string;
    }
  | { readonly type: "destroyed"; readonly resource: AnyResource; readonly bookmark: string }
  /** End of the initial contents; later events are live. */
  | { readonly type: "bootstrapped"; readonly bookmark: string };

export interface WatchOptions {
  readonly signal?: AbortSignal;
  /** Replay up to this many past events (from the state's history) before live ones. */
  readonly tailEvents?: number;
  /** Resume right after this bookmark; fails with history_lost when it is too old. */
  readonly startFromBookmark?: string;
}

export interface WatchKindOptions extends WatchOptions {
  /** Send every current resource as `created`, then `bootstrapped`, then live events. */
  readonly bootstrapContents?: boolean;
  readonly labelQuery?: LabelQuery;
}

/**
 * The small core every backend implements. Everything convenient (modify with conflict retry,
 * teardown, finalizers, waitFor) is derived once in `wrapCore`.
 *
 * Rules every backend keeps (the conformance suite checks them):
 * - create fails with already_exists; stores version 1 and the writer as owner.
 * - update fails with not_found, conflict (the given version is not the stored one),
 *   owner_conflict, or phase_conflict; stores version + 1. A torn-down resource never runs again.
 * - destroy needs the owner, phase tearingDown and no finalizers.
 * - watch(ptr) = watchKind for one id, always bootstrapped with the current state.
 */
export interface CoreState {
  get<S>(ptr: Pointer<S>, options?: ReadOptions): Promise<Resource<S>>;
  list(kind: Kind, options?: ListOptions): Promise<AnyResource[]>;
  create<S>(resource: Resource<S>, options?: WriteOptions): Promise<Resource<S>>;
  update<S>(resource: Resource<S>, options?: UpdateOptions): Promise<Resource<S>>;
  destroy(ptr: Pointer, options?: WriteOptions): Promise<void>;
  watch(ptr: Pointer, options?: WatchOptions): AsyncIterable<WatchEvent>;
  watchKind(kind: Kind, options?: WatchKindOptions): AsyncIterable<WatchEvent>;
  /** Releases connections and files; open watches end. */
  close(): Promise<void>;
}
