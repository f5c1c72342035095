import { Etcd3, type IKeyValue, type IOptions, type IRequestOp, type ITxnResponse } from "etcd3";
import { PlinthError } from "../../../../errors/plinth-error.ts";
import { matchesLabels } from "../../../resource/label-query.ts";
import type { AnyResource, Kind, Pointer, Resource } from "../../../resource/resource.ts";
import { deepFreeze, formatPointer } from "../../../resource/resource.ts";
import type {
  CoreState,
  ListOptions,
  ReadOptions,
  UpdateOptions,
  WatchEvent,
  WatchKindOptions,
  WatchOptions,
  WriteOptions,
} from "../../core-state.ts";
import { assertWellFormed, ruleCreate, ruleDestroy, ruleUpdate } from "../../internal/write-rules.ts";
import { decodeResource, encodeResource } from "../sqlite/resource-json.ts";
import { translateEtcdError } from "./etcd-error.ts";
import { etcdKeys, type KeyRange } from "./etcd-keys.ts";
import { type Entry, type EtcdSession, openEtcdWatch, type Snapshot } from "./etcd-watch.ts";

export interface EtcdStateOptions {
  /** Client URLs of the etcd members, e.g. `http://127.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  /** Key prefix of this state; states on one etcd with the same prefix share their resources. */
  readonly prefix?: string;
  /** Deadline of each request; a call that gets no answer in time fails with unavailable. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** How many revisions back a `tailEvents` watch looks for past events. Default 10 000. */
  readonly tailWindow?: number;
  /** Events a watcher may fall behind before it fails with history_lost. Default 65 536. */
  readonly watcherBacklog?: number;
  /** Longest pause between attempts to reconnect a watch. Default 1 s. */
  readonly maxReconnectDelayMs?: number;
  /** The clock for `created` and `updated`; default the system clock. */
  readonly now?: () => string;
}

/** Runs every call straight through: no retries (a retried write could apply twice), no circuit. */
const passThrough = { execute: async <T>(fn: (context: unknown) => T) => fn({}) };

/** Writes (create, update, destroy) retry after losing a race at most this often. */
const maxRaces = 64;

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`Cannot create etcd state: '${name}' must be > 0, current value is ${value}`);
  }
}

/**
 * A CoreState in etcd, for state that several processes (and machines) share. Revisions are
 * etcd revisions and bookmarks their decimal text. Writes are transactions that apply only if
 * the key is still as it was read, so two writers never both win; a write that fails with
 * unavailable may or may not have been applied. Watches survive etcd restarts and reconnect
 * from the last revision they delivered.
 */
export function createEtcdState(options: EtcdStateOptions): CoreState {
  const endpoints = options?.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0 || !endpoints.every((e) => typeof e === "string")) {
    throw new TypeError(
      `Cannot create etcd state: 'endpoints' must be a non-empty list of URLs, current value is ${JSON.stringify(endpoints)}`,
    );
  }
  const prefix = options.prefix ?? "plinth";
  if (typeof prefix !== "string" || prefix.endsWith("/")) {
    throw new TypeError(
      `Cannot create etcd state: 'prefix' must not end with '/', current value is ${JSON.stringify(prefix)}`,
    );
  }
  checkPositive("requestTimeoutMs", options.requestTimeoutMs);
  checkPositive("tailWindow", options.tailWindow);
  checkPositive("watcherBacklog", options.watcherBacklog);
  checkPositive("maxReconnectDelayMs", options.maxReconnectDelayMs);
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const now = options.now ?? (() => new Date().toISOString());
  const keys = etcdKeys(prefix);
  const clientOptions: IOptions = {
    hosts: [...endpoints],
    defaultCallOptions: (call) => (call.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    faultHandling: {
      host: () => passThrough as never,
      global: passThrough as never,
    },
    grpcOptions: {
      // Notice a dead connection (a frozen or unplugged server) within seconds; etcd rejects
      // pings more often than every 5 s.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      // Reconnect promptly once the server is back.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
      "grpc.use_local_subchannel_pool": 1,
    },
  };
  const client = new Etcd3(clientOptions);
  const openWatches = new Set<{ stop(): void }>();
  const starting = new Set<Promise<void>>();
  let closed = false;

  /** Runs one etcd call: translated errors, the caller's signal, a closed state refused. */
  async function call<T>(action: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (closed) throw new PlinthError("unavailable", `cannot ${action}: the state is closed`);
    if (signal?.aborted) {
      throw new PlinthError("canceled", `${action} was canceled`, { cause: signal.reason });
    }
    try {
      if (!signal) return await fn();
      let onAbort: () => void = () => {};
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () =>
          reject(new PlinthError("canceled", `${action} was canceled`, { cause: signal.reason }));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        return await Promise.race([fn(), aborted]);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } catch (err) {
      throw translateEtcdError(err, action);
    }
  }

  function decode(kv: IKeyValue, ptr: Pointer): AnyResource {
    try {
      return deepFreeze(decodeResource(kv.value.toString("utf8"), ptr));
    } catch (err) {
      throw new PlinthError(
        "internal",
        `etcd key '${kv.key.toString("utf8")}' does not hold a resource: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async function readRange(
    action: string,
    kind: Kind,
    range: KeyRange,
    revision: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Snapshot> {
    const res = await call(action, signal, () =>
      client.kv.range({
        key: range.key,
        ...(range.rangeEnd ? { range_end: range.rangeEnd } : {}),
        ...(revision !== undefined ? { revision } : {}),
      }),
    );
    const entries = new Map<string, Entry>();
    let marker: number | undefined;
    for (const kv of res.kvs) {
      const id = keys.idOf(kind, kv.key);
      if (id === undefined) continue;
      if (id === "") marker = Number(kv.mod_revision);
      else entries.set(id, { resource: decode(kv, { ...kind, id }), modRevision: Number(kv.mod_revision) });
    }
    return { revision: Number(res.header.revision), entries, marker };
  }

  // The last stored state this client saw of recently written or read keys: an update or destroy
  // first tries its transaction against it, saving a read. Only a hint: the transaction applies
  // only if the key is still at that mod_revision, and brings back the current value if not.
  const known = new Map<string, Entry>();
  function remember(key: string, entry: Entry | undefined): void {
    known.delete(key);
    if (!entry) return;
    known.set(key, entry);
    if (known.size > 4096) known.delete(known.keys().next().value!);
  }

  async function readKey(action: string, ptr: Pointer, signal: AbortSignal | undefined) {
    const snap = await readRange(action, ptr, keys.resourceRange(ptr), undefined, signal);
    return snap.entries.get(ptr.id);
  }

  /**
   * A conditional write: `ops` apply, with the kind's marker put last, only if the key's
   * mod_revision is still `modRevision` (0: the key is absent). Returns the write's revision, or
   * the key's current state when the condition failed.
   */
  async function writeIf(
    action: string,
    ptr: Pointer,
    modRevision: number,
    ops: IRequestOp[],
    signal: AbortSignal | undefined,
  ): Promise<{ revision: number } | { current: Entry | undefined }> {
    const key = Buffer.from(keys.resourceKey(ptr));
    if (starting.size > 0) await Promise.all(starting);
    const res: ITxnResponse = await call(action, signal, () =>
      client.kv.txn({
        compare: [{ key, target: "Mod", result: "Equal", mod_revision: modRevision }],
        success: [...ops, { request_put: { key: Buffer.from(keys.markerKey(ptr)), value: Buffer.alloc(0) } }],
        failure: [{ request_range: { key } }],
      }),
    );
    if (res.succeeded) return { revision: Number(res.header.revision) };
    const kv = res.responses[0]?.response_range.kvs[0];
    return { current: kv ? { resource: decode(kv, ptr), modRevision: Number(kv.mod_revision) } : undefined };
  }

  const put = (ptr: Pointer, resource: AnyResource): IRequestOp[] => [
    {
      request_put: { key: Buffer.from(keys.resourceKey(ptr)), value: Buffer.from(encodeResource(resource)) },
    },
  ];

  /**
   * An update or destroy: `plan` checks the write rules against the stored state and says what
   * to write; the write applies only if the key has not changed since. A lost race re-checks
   * the rules against the state that won, so every refusal reflects a state etcd really held.
   * `hint` is a remembered state, tried first to save a read, and read again when the rules
   * refuse it.
   */
  async function writeWithRetry<R>(
    action: string,
    ptr: Pointer,
    hint: Entry | undefined,
    signal: AbortSignal | undefined,
    plan: (current: Entry | undefined) => { ops: IRequestOp[]; stored: R },
  ): Promise<R> {
    const key = keys.resourceKey(ptr);
    let current = hint ?? (await readKey(action, ptr, signal));
    let verified = hint === undefined;
    for (let race = 0; ; race++) {
      let planned: { ops: IRequestOp[]; stored: R };
      try {
        planned = plan(current);
      } catch (err) {
        if (verified) throw err;
        current = await readKey(action, ptr, signal);
        verified = true;
        continue;
      }
      const result = await writeIf(action, ptr, current!.modRevision, planned.ops, signal);
      if ("revision" in result) {
        const stored = planned.stored as AnyResource | undefined;
        remember(key, stored && { resource: stored, modRevision: result.revision });
        return planned.stored;
      }
      current = result.current;
      verified = true;
      remember(key, current);
      if (race >= maxRaces) {
        throw new PlinthError("unavailable", `cannot ${action}: lost ${maxRaces} races to other writers`);
      }
    }
  }

  const session: EtcdSession = {
    client,
    keys,
    readRange,
    decode,
    translate: translateEtcdError,
    tailWindow: options.tailWindow ?? 10_000,
    watcherBacklog: options.watcherBacklog ?? 65_536,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? 1000,
    openWatches,
    starting,
  };

  function checkOpen(what: string): void {
    if (closed) throw new PlinthError("unavailable", `cannot ${what}: the state is closed`);
  }

  return {
    async get<S>(ptr: Pointer<S>, opts?: ReadOptions): Promise<Resource<S>> {
      const entry = await readKey(`get ${formatPointer(ptr)}`, ptr, opts?.signal);
      if (!entry) throw new PlinthError("not_found", `resource ${formatPointer(ptr)} does not exist`);
      remember(keys.resourceKey(ptr), entry);
      return entry.resource as Resource<S>;
    },

    async list(kind: Kind, opts?: ListOptions): Promise<AnyResource[]> {
      const action = `list ${kind.namespace}/${kind.type}`;
      const snap = await readRange(action, kind, keys.kindRange(kind), undefined, opts?.signal);
      const out: AnyResource[] = [];
      for (const { resource } of snap.entries.values()) {
        if (matchesLabels(resource.metadata.labels, opts?.labelQuery)) out.push(resource);
      }
      return out.sort((a, b) => (a.metadata.id < b.metadata.id ? -1 : a.metadata.id > b.metadata.id ? 1 : 0));
    },

    async create<S>(res: Resource<S>, opts?: WriteOptions): Promise<Resource<S>> {
      const stored = ruleCreate(res, undefined, opts, now());
      const ptr = stored.metadata;
      const result = await writeIf(`create ${formatPointer(ptr)}`, ptr, 0, put(ptr, stored), opts?.signal);
      if ("current" in result) {
        // Someone else holds the key: the rules say how to refuse.
        ruleCreate(res, result.current?.resource, opts, now());
        throw new PlinthError(
          "internal",
          `create of ${formatPointer(ptr)} lost to a write that left no resource`,
        );
      }
      remember(keys.resourceKey(ptr), { resource: stored, modRevision: result.revision });
      return stored;
    },

    async update<S>(res: Resource<S>, opts?: UpdateOptions): Promise<Resource<S>> {
      assertWellFormed(res);
      const ptr = res.metadata;
      const action = `update ${formatPointer(ptr)}`;
      const cached = known.get(keys.resourceKey(ptr));
      const usable = cached !== undefined && cached.resource.metadata.version === res.metadata.version;
      return writeWithRetry(action, ptr, usable ? cached : undefined, opts?.signal, (current) => {
        const next = ruleUpdate(res, current?.resource, opts, now());
        return { ops: put(ptr, next), stored: next };
      });
    },

    async destroy(ptr: Pointer, opts?: WriteOptions): Promise<void> {
      await writeWithRetry(
        `destroy ${formatPointer(ptr)}`,
        ptr,
        known.get(keys.resourceKey(ptr)),
        opts?.signal,
        (current) => {
          ruleDestroy(ptr, current?.resource, opts);
          return {
            ops: [{ request_delete_range: { key: Buffer.from(keys.resourceKey(ptr)) } }],
            stored: undefined,
          };
        },
      );
    },

    watch(ptr: Pointer, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
      checkOpen(`watch ${formatPointer(ptr)}`);
      const usesHistory = opts.tailEvents !== undefined || opts.startFromBookmark !== undefined;
      return openEtcdWatch(session, ptr, { id: ptr.id }, { ...opts, bootstrapContents: !usesHistory });
    },

    watchKind(kind: Kind, opts: WatchKindOptions = {}): AsyncIterable<WatchEvent> {
      checkOpen(`watch ${kind.namespace}/${kind.type}`);
      return openEtcdWatch(session, kind, { labelQuery: opts.labelQuery }, opts);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const w of [...openWatches]) w.stop();
      client.close();
    },
  };
}
