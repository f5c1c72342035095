import type { AffiliateUpdate, StoredAffiliate } from "./affiliate-record.ts";
import type { ClusterEvent, ClusterStats, ClusterWatchOptions } from "./cluster-table.ts";

export interface GarbageCollection {
  readonly removedAffiliates: number;
  readonly removedEndpoints: number;
}

/**
 * Where the discovery service keeps affiliates: one interface, two backends (memory with
 * snapshots; etcd for several servers sharing one state). Arguments are already validated
 * against the limits, except the per-cluster affiliate count, which only the store can check.
 */
export interface DiscoveryStore {
  /** Creates or updates; resource_exhausted when the cluster or the affiliate is full. */
  update(clusterId: string, affiliateId: string, update: AffiliateUpdate): Promise<void>;
  /** Removes the affiliate; nothing happens when there is none. */
  delete(clusterId: string, affiliateId: string): Promise<void>;
  list(clusterId: string): Promise<readonly StoredAffiliate[]>;
  watch(clusterId: string, options?: ClusterWatchOptions): AsyncIterable<ClusterEvent>;
  /** Removes what expired; watchers see an expired affiliate as deleted. */
  collectGarbage(): Promise<GarbageCollection>;
  stats(): ClusterStats;
  /** Ends open watches (with `unavailable`) and releases connections. */
  close(): Promise<void>;
}
