import type { Logger } from "pino";
import type { AnyResource, Kind, Pointer, Resource } from "../resource/resource.ts";
import type { ListOptions, ReadOptions, UpdateOptions } from "../state/core-state.ts";
import type { Draft, UpsertOptions } from "../state/state.ts";

/**
 * strong: the controller depends on these resources and may hold finalizers on them;
 * weak: read and woken on change, no finalizers; destroyReady: woken only when a resource of
 * the kind is torn down with no finalizers left (an owner waiting to destroy its outputs).
 */
export type InputKind = "strong" | "weak" | "destroyReady";

export interface ControllerInput {
  readonly namespace: string;
  readonly type: string;
  readonly id?: string;
  readonly kind: InputKind;
}

/** exclusive: only this controller writes the type; shared: several may, each its own resources. */
export type OutputKind = "exclusive" | "shared";

export interface ControllerOutput {
  readonly type: string;
  readonly kind: OutputKind;
}

export interface ReconcileResult {
  /** Reconcile again after this long even when no input changed (drift checks, polling). */
  readonly requeueAfterMs?: number;
}

/** Writes the declared outputs of one reconcile and removes the ones no longer produced. */
export interface OutputTracker {
  /** Creates or updates (only when the content changed) one output resource. */
  apply<S>(resource: Resource<S>): Promise<Resource<S>>;
  /**
   * Tears down this controller's resources of the kind that `apply` did not touch, and destroys
   * those with no finalizers left. Returns how many are still waiting on finalizers.
   */
  cleanup(): Promise<number>;
}

/**
 * What a controller sees of the state: reads limited to its inputs and outputs, writes to its
 * outputs (as their owner), finalizer edits to its inputs.
 */
export interface ControllerContext {
  readonly name: string;
  /** Aborted when the runtime stops. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  get<S>(ptr: Pointer<S>, options?: ReadOptions): Promise<Resource<S>>;
  find<S>(ptr: Pointer<S>, options?: ReadOptions): Promise<Resource<S> | undefined>;
  list(kind: Kind, options?: ListOptions): Promise<AnyResource[]>;
  create<S>(resource: Resource<S>): Promise<Resource<S>>;
  update<S>(resource: Resource<S>, options?: Pick<UpdateOptions, "expectedPhase">): Promise<Resource<S>>;
  modify<S>(ptr: Pointer<S>, change: (draft: Draft<S>) => void): Promise<Resource<S>>;
  upsert<S>(
    ptr: Pointer<S>,
    change: (draft: Draft<S>) => void,
    options: Pick<UpsertOptions<S>, "initial">,
  ): Promise<Resource<S>>;
  teardown(ptr: Pointer): Promise<boolean>;
  destroy(ptr: Pointer): Promise<void>;
  addFinalizer(ptr: Pointer, finalizers?: readonly string[]): Promise<AnyResource>;
  removeFinalizer(ptr: Pointer, finalizers?: readonly string[]): Promise<AnyResource>;
  track(kind: Kind): OutputTracker;
}

/** A controller declared as data: reconciled as a whole whenever any input changes. */
export interface Controller {
  readonly name: string;
  readonly inputs: readonly ControllerInput[];
  readonly outputs: readonly ControllerOutput[];
  reconcile(ctx: ControllerContext): Promise<ReconcileResult | undefined | void>;
}

/** Maps a change of a secondary input to the primary resources it affects. */
export interface MappedInput extends ControllerInput {
  map(resource: AnyResource): readonly Pointer[];
}

/** A controller reconciled one primary resource at a time, from a queue. */
export interface QueueController {
  readonly name: string;
  /** Every resource of this kind is queued on start and whenever it changes. */
  readonly primary: Kind;
  readonly mappedInputs?: readonly MappedInput[];
  readonly outputs: readonly ControllerOutput[];
  /** Resources reconciled at once; default 1. */
  readonly concurrency?: number;
  /** `ptr` may point at a resource that no longer exists: clean up after it. */
  reconcile(ctx: ControllerContext, ptr: Pointer): Promise<ReconcileResult | undefined | void>;
}

export type AnyController = Controller | QueueController;

export function isQueueController(c: AnyController): c is QueueController {
  return "primary" in c;
}

/** Thrown by a queue controller to retry one resource later without counting an error. */
export class RequeueError extends Error {
  override readonly name = "RequeueError";
  readonly afterMs: number;
  constructor(afterMs: number, reason = "requeued") {
    super(reason);
    if (!(afterMs >= 0)) {
      throw new RangeError(`Cannot requeue: 'afterMs' must be >= 0, current value is ${afterMs}`);
    }
    this.afterMs = afterMs;
  }
}

/** All inputs of a controller, whatever its shape. */
export function inputsOf(c: AnyController): readonly ControllerInput[] {
  if (!isQueueController(c)) return c.inputs;
  return [{ ...c.primary, kind: "strong" }, ...(c.mappedInputs ?? [])];
}
