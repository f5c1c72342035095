import { PlinthError } from "../../errors/plinth-error.ts";
import {
  type AffiliateUpdate,
  mergeUpdate,
  type StoredAffiliate,
  withoutExpired,
} from "./affiliate-record.ts";
import { createClusterTable } from "./cluster-table.ts";
import type { DiscoveryStore, GarbageCollection } from "./discovery-store.ts";
import { discoveryLimits } from "./limits.ts";

/** Every cluster's affiliates, as snapshots save and restore them. */
export interface StoreContents {
  readonly clusters: readonly { readonly id: string; readonly affiliates: readonly StoredAffiliate[] }[];
}

export interface MemoryStoreOptions {
  /** Epoch milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Changes a watcher may have unread before it is ended with `conflict`; default 128. */
  readonly watchBuffer?: number;
  /** Restored at start (from a snapshot); what already expired is left out. */
  readonly initial?: StoreContents;
}

export interface MemoryDiscoveryStore extends DiscoveryStore {
  /** A consistent copy of everything, for a snapshot. */
  contents(): StoreContents;
}

export function tooManyAffiliates(clusterId: string, count: number): PlinthError {
  return new PlinthError(
    "resource_exhausted",
    `cluster '${clusterId}' has ${count} affiliates, the most allowed; no more can join`,
  );
}

/** The single-server store: everything in memory; durability comes from periodic snapshots. */
export function createMemoryDiscoveryStore(options: MemoryStoreOptions = {}): MemoryDiscoveryStore {
  const now = options.now ?? Date.now;
  const table = createClusterTable({ watchBuffer: options.watchBuffer });
  const start = now();
  for (const cluster of options.initial?.clusters ?? []) {
    for (const affiliate of cluster.affiliates) {
      const alive = withoutExpired(affiliate, start);
      if (alive) table.put(cluster.id, alive, false);
    }
  }

  return {
    async update(clusterId: string, affiliateId: string, update: AffiliateUpdate) {
      const existing = table.get(clusterId, affiliateId);
      if (!existing && table.size(clusterId) >= discoveryLimits.affiliatesPerCluster) {
        throw tooManyAffiliates(clusterId, table.size(clusterId));
      }
      const { affiliate, changed } = mergeUpdate(existing, affiliateId, update, now());
      table.put(clusterId, affiliate, changed);
    },
    async delete(clusterId, affiliateId) {
      table.remove(clusterId, affiliateId);
    },
    async list(clusterId) {
      return table.list(clusterId);
    },
    watch: (clusterId, watchOptions) => table.watch(clusterId, watchOptions),
    async collectGarbage(): Promise<GarbageCollection> {
      const at = now();
      let removedAffiliates = 0;
      let removedEndpoints = 0;
      const expired: [string, string][] = [];
      for (const [clusterId, affiliates] of table.entries()) {
        for (const affiliate of affiliates.values()) {
          const alive = withoutExpired(affiliate, at);
          if (alive === affiliate) continue;
          if (alive) {
            removedEndpoints += affiliate.endpoints.length - alive.endpoints.length;
            table.put(clusterId, alive, true);
          } else {
            expired.push([clusterId, affiliate.id]);
          }
        }
      }
      for (const [clusterId, affiliateId] of expired) {
        if (table.remove(clusterId, affiliateId)) removedAffiliates++;
      }
      table.compact();
      return { removedAffiliates, removedEndpoints };
    },
    stats: () => table.stats(),
    contents() {
      return {
        clusters: [...table.entries()]
          .filter(([, affiliates]) => affiliates.size > 0)
          .map(([id, affiliates]) => ({ id, affiliates: [...affiliates.values()] })),
      };
    },
    async close() {
      table.endWatches(new PlinthError("unavailable", "the discovery service is shutting down"));
    },
  };
}
