import { PlinthError } from "../../../errors/plinth-error.ts";
import { matchesLabels } from "../../resource/label-query.ts";
import type { AnyResource, Kind, Pointer, Resource } from "../../resource/resource.ts";
import { deepFreeze, formatPointer, kindKey } from "../../resource/resource.ts";
import type {
  CoreState,
  ListOptions,
  UpdateOptions,
  WatchEvent,
  WatchKindOptions,
  WatchOptions,
  WriteOptions,
} from "../core-state.ts";
import type { Change } from "./event-filter.ts";
import type { WatchHubOptions } from "./watch-hub.ts";
import { WatchHub } from "./watch-hub.ts";
import { ruleCreate, ruleDestroy, ruleUpdate } from "./write-rules.ts";

/** Makes a batch of changes durable before they are acknowledged and delivered to watchers. */
export interface Journal {
  /**
   * Throws when the journal cannot store this resource faithfully (a spec value its encoding
   * cannot carry). Called before the write is applied, so such a write fails alone instead of
   * failing its whole batch and, with it, the state.
   */
  admit?(resource: AnyResource): void;
  /** Synchronous on purpose: a batch is committed in one go, then acknowledged. */
  commit(batch: readonly Change[]): void;
  close(): void;
}

export interface StoreEngineOptions extends WatchHubOptions {
  readonly journal?: Journal;
  /** Contents to start from (loaded from a journal's storage). */
  readonly initial?: { readonly resources: readonly AnyResource[]; readonly revision: number };
  readonly now?: () => string;
}

interface Pending {
  readonly change: Change;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * An in-process CoreState: resources in maps, changes ordered by a revision counter. Without a
 * journal it is the memory backend. With one, writes made in the same turn of the event loop are
 * committed as one batch; each write is acknowledged, and seen by watchers, only after its batch
 * is durable. A failed commit fails the state as a whole, as a crashed process would.
 */
export function createStoreEngine(options: StoreEngineOptions = {}): CoreState & { readonly hub: WatchHub } {
  const kinds = new Map<string, Map<string, AnyResource>>();
  let revision = options.initial?.revision ?? 0;
  for (const r of options.initial?.resources ?? []) bucket(r.metadata).set(r.metadata.id, deepFreeze(r));
  const hub = new WatchHub(revision, options);
  const now = options.now ?? isoNow;
  const journal = options.journal;
  let pending: Pending[] = [];
  let flushScheduled = false;
  let failure: unknown;
  let closed = false;

  function bucket(kind: Kind): Map<string, AnyResource> {
    const key = kindKey(kind);
    let m = kinds.get(key);
    if (!m) {
      m = new Map();
      kinds.set(key, m);
    }
    return m;
  }

  function checkOpen(signal?: AbortSignal): void {
    if (closed) throw new PlinthError("unavailable", "state is closed");
    if (failure !== undefined) {
      throw new PlinthError("unavailable", "state failed to persist a write and stopped", { cause: failure });
    }
    if (signal?.aborted)
      throw new PlinthError("canceled", "operation was canceled", { cause: signal.reason });
  }

  function flush(): void {
    flushScheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      journal!.commit(batch.map((p) => p.change));
    } catch (err) {
      failure = err;
      const lost = new PlinthError("unavailable", "write was not persisted", { cause: err });
      for (const p of batch) p.reject(lost);
      // Watchers would otherwise wait forever on a state that accepts nothing more.
      hub.closeAll(
        new PlinthError("unavailable", "state failed to persist a write and stopped", { cause: err }),
      );
      return;
    }
    for (const p of batch) {
      hub.publish(p.change);
      p.resolve();
    }
  }

  /** Records an applied change: delivers it now, or after its batch commits. */
  function record(change: Change): Promise<void> | undefined {
    if (!journal) {
      hub.publish(change);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      pending.push({ change, resolve, reject });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
  }

  return {
    hub,
    async get<S>(ptr: Pointer<S>, opts?: { signal?: AbortSignal }): Promise<Resource<S>> {
      checkOpen(opts?.signal);
      const r = kinds.get(kindKey(ptr))?.get(ptr.id);
      if (!r) throw new PlinthError("not_found", `resource ${formatPointer(ptr)} does not exist`);
      return r as Resource<S>;
    },
    async list(kind: Kind, opts?: ListOptions): Promise<AnyResource[]> {
      checkOpen(opts?.signal);
      const m = kinds.get(kindKey(kind));
      if (!m) return [];
      const out: AnyResource[] = [];
      for (const r of m.values()) if (matchesLabels(r.metadata.labels, opts?.labelQuery)) out.push(r);
      return out.sort((a, b) => (a.metadata.id < b.metadata.id ? -1 : a.metadata.id > b.metadata.id ? 1 : 0));
    },
    async create<S>(res: Resource<S>, opts?: WriteOptions): Promise<Resource<S>> {
      checkOpen(opts?.signal);
      const m = bucket(res.metadata);
      const stored = ruleCreate(res, m.get(res.metadata.id), opts, now());
      journal?.admit?.(stored);
      m.set(stored.metadata.id, stored);
      await record({ type: "created", revision: ++revision, resource: stored });
      return stored;
    },
    async update<S>(res: Resource<S>, opts?: UpdateOptions): Promise<Resource<S>> {
      checkOpen(opts?.signal);
      const m = bucket(res.metadata);
      const old = m.get(res.metadata.id);
      const stored = ruleUpdate(res, old, opts, now());
      journal?.admit?.(stored);
      m.set(stored.metadata.id, stored);
      await record({ type: "updated", revision: ++revision, resource: stored, old: old! });
      return stored;
    },
    async destroy(ptr: Pointer, opts?: WriteOptions): Promise<void> {
      checkOpen(opts?.signal);
      const m = kinds.get(kindKey(ptr));
      const stored = m?.get(ptr.id);
      ruleDestroy(ptr, stored, opts);
      m!.delete(ptr.id);
      await record({ type: "destroyed", revision: ++revision, resource: stored! });
    },
    watch(ptr: Pointer, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
      checkOpen(opts.signal);
      const usesHistory = opts.tailEvents !== undefined || opts.startFromBookmark !== undefined;
      return subscribe(ptr, { id: ptr.id }, { ...opts, bootstrapContents: !usesHistory });
    },
    watchKind(kind: Kind, opts: WatchKindOptions = {}): AsyncIterable<WatchEvent> {
      checkOpen(opts.signal);
      return subscribe(kind, { labelQuery: opts.labelQuery }, opts);
    },
    async close(): Promise<void> {
      if (closed) return;
      if (journal) {
        flush();
        journal.close();
      }
      closed = true;
      hub.closeAll();
    },
  };

  function subscribe(
    kind: Kind,
    filter: { id?: string; labelQuery?: WatchKindOptions["labelQuery"] },
    opts: WatchKindOptions,
  ): AsyncIterable<WatchEvent> {
    return hub.subscribe(kind, filter, opts, () => {
      const m = kinds.get(kindKey(kind));
      const resources = m ? [...m.values()] : [];
      resources.sort((a, b) => (a.metadata.id < b.metadata.id ? -1 : 1));
      // The maps already hold writes whose batch is still committing: the snapshot includes
      // them, so it stands at the latest revision, and those changes are skipped when published.
      return { resources, revision };
    });
  }
}

let lastMs = 0;
let lastIso = "";
/** The current time as ISO 8601, formatted once per millisecond (writes are far more frequent). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
