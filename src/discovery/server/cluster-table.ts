import { PlinthError } from "../../errors/plinth-error.ts";
import type { StoredAffiliate } from "./affiliate-record.ts";
import { createWatchQueue, type WatchQueue } from "./watch-queue.ts";

/** What a watcher of one cluster sees: the snapshot first, then each change in order. */
export type ClusterEvent =
  | { readonly type: "snapshot"; readonly affiliates: readonly StoredAffiliate[] }
  | { readonly type: "updated"; readonly affiliate: StoredAffiliate }
  | { readonly type: "deleted"; readonly id: string };

export interface ClusterWatchOptions {
  readonly signal?: AbortSignal;
}

export interface ClusterStats {
  /** Clusters with at least one affiliate. */
  readonly clusters: number;
  readonly affiliates: number;
  readonly endpoints: number;
  readonly watchers: number;
}

/**
 * The clusters held in memory and their watchers: the memory store's state, and the etcd store's
 * local mirror. Every change notifies the cluster's watchers in the same turn, so a watcher's
 * snapshot and its later events never overlap or leave a gap.
 */
export interface ClusterTable {
  get(clusterId: string, affiliateId: string): StoredAffiliate | undefined;
  list(clusterId: string): StoredAffiliate[];
  /** Affiliates in the cluster. */
  size(clusterId: string): number;
  /** Stores the affiliate; watchers hear of it only when `notify` (a real change). */
  put(clusterId: string, affiliate: StoredAffiliate, notify: boolean): void;
  /** Removes the affiliate (watchers hear of it); false when there was none. */
  remove(clusterId: string, affiliateId: string): boolean;
  /** The snapshot, then changes; ends with a `conflict` error when the watcher falls too far behind. */
  watch(clusterId: string, options?: ClusterWatchOptions): AsyncIterable<ClusterEvent>;
  entries(): IterableIterator<[string, ReadonlyMap<string, StoredAffiliate>]>;
  /** Drops clusters with no affiliates and no watchers. */
  compact(): void;
  stats(): ClusterStats;
  /** Ends every open watch with `err`. */
  endWatches(err: Error): void;
}

interface ClusterEntry {
  readonly affiliates: Map<string, StoredAffiliate>;
  readonly watchers: Set<WatchQueue<ClusterEvent>>;
}

export interface ClusterTableOptions {
  /** Changes a watcher may have unread before it is ended; default 128. */
  readonly watchBuffer?: number;
}

export function createClusterTable(options: ClusterTableOptions = {}): ClusterTable {
  const watchBuffer = options.watchBuffer ?? 128;
  if (!Number.isInteger(watchBuffer) || watchBuffer < 1) {
    throw new RangeError(
      `Cannot create the cluster table: 'watchBuffer' must be an integer >= 1, current value is ${watchBuffer}`,
    );
  }
  const clusters = new Map<string, ClusterEntry>();
  let watcherCount = 0;

  function entry(clusterId: string): ClusterEntry {
    let e = clusters.get(clusterId);
    if (!e) {
      e = { affiliates: new Map(), watchers: new Set() };
      clusters.set(clusterId, e);
    }
    return e;
  }

  function notify(e: ClusterEntry, event: ClusterEvent): void {
    for (const w of e.watchers) w.push(event);
  }

  async function* watch(clusterId: string, opts: ClusterWatchOptions): AsyncGenerator<ClusterEvent> {
    opts.signal?.throwIfAborted();
    const e = entry(clusterId);
    const queue = createWatchQueue<ClusterEvent>(
      watchBuffer,
      () =>
        new PlinthError(
          "conflict",
          `the watch of cluster '${clusterId}' fell ${watchBuffer} changes behind and was ended; watch again for a fresh snapshot`,
        ),
    );
    queue.push({ type: "snapshot", affiliates: [...e.affiliates.values()] });
    e.watchers.add(queue);
    watcherCount++;
    try {
      for (;;) yield await queue.next(opts.signal);
    } finally {
      e.watchers.delete(queue);
      watcherCount--;
    }
  }

  return {
    get: (clusterId, affiliateId) => clusters.get(clusterId)?.affiliates.get(affiliateId),
    list: (clusterId) => [...(clusters.get(clusterId)?.affiliates.values() ?? [])],
    size: (clusterId) => clusters.get(clusterId)?.affiliates.size ?? 0,
    put(clusterId, affiliate, shouldNotify) {
      const e = entry(clusterId);
      e.affiliates.set(affiliate.id, affiliate);
      if (shouldNotify) notify(e, { type: "updated", affiliate });
    },
    remove(clusterId, affiliateId) {
      const e = clusters.get(clusterId);
      if (!e?.affiliates.delete(affiliateId)) return false;
      notify(e, { type: "deleted", id: affiliateId });
      return true;
    },
    watch: (clusterId, opts = {}) => watch(clusterId, opts),
    *entries() {
      for (const [id, e] of clusters) yield [id, e.affiliates];
    },
    compact() {
      for (const [id, e] of clusters)
        if (e.affiliates.size === 0 && e.watchers.size === 0) clusters.delete(id);
    },
    stats() {
      let populated = 0;
      let affiliates = 0;
      let endpoints = 0;
      for (const e of clusters.values()) {
        if (e.affiliates.size > 0) populated++;
        affiliates += e.affiliates.size;
        for (const a of e.affiliates.values()) endpoints += a.endpoints.length;
      }
      return { clusters: populated, affiliates, endpoints, watchers: watcherCount };
    },
    endWatches(err) {
      for (const e of clusters.values()) for (const w of e.watchers) w.fail(err);
    },
  };
}
