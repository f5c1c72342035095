import { PlinthError } from "../../errors/plinth-error.ts";
import { discoveryLimits } from "./limits.ts";

// An affiliate as the server keeps it, and the pure rules that change it: how an update merges
// into what is stored, and what expires. Both store backends (memory and etcd) apply exactly
// these, so their answers cannot drift apart.

export interface StoredEndpoint {
  /** Sealed by the client; opaque here. */
  readonly data: Uint8Array;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export interface StoredAffiliate {
  readonly id: string;
  /** Sealed by the client; empty while only endpoints were reported for it. */
  readonly data: Uint8Array;
  /** Epoch milliseconds; the whole affiliate goes then. */
  readonly expiresAt: number;
  readonly endpoints: readonly StoredEndpoint[];
}

export interface AffiliateUpdate {
  /** Replaces the stored data when present and not empty. */
  readonly data?: Uint8Array;
  /** Merged with the stored endpoints. */
  readonly endpoints: readonly Uint8Array[];
  readonly ttlMs: number;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The affiliate after `update` at time `now`, and whether a watcher would see a difference
 * (expiry extensions alone are not one). Data sent resets the affiliate's expiry to now + ttl;
 * an endpoint already stored only has its expiry extended; a new one is appended, up to the
 * per-affiliate limit (resource_exhausted past it, nothing changed).
 */
export function mergeUpdate(
  existing: StoredAffiliate | undefined,
  id: string,
  update: AffiliateUpdate,
  now: number,
): { affiliate: StoredAffiliate; changed: boolean } {
  const expiresAt = now + update.ttlMs;
  let changed = existing === undefined;
  let data = existing?.data ?? new Uint8Array();
  let affiliateExpiresAt = existing?.expiresAt ?? expiresAt;
  if (update.data !== undefined && update.data.length > 0) {
    if (!sameBytes(data, update.data)) changed = true;
    data = update.data;
    affiliateExpiresAt = expiresAt;
  }
  const endpoints: StoredEndpoint[] = [...(existing?.endpoints ?? [])];
  for (const endpoint of update.endpoints) {
    const index = endpoints.findIndex((e) => sameBytes(e.data, endpoint));
    if (index >= 0) {
      const stored = endpoints[index]!;
      if (stored.expiresAt < expiresAt) endpoints[index] = { data: stored.data, expiresAt };
      continue;
    }
    if (endpoints.length >= discoveryLimits.endpointsPerAffiliate) {
      throw new PlinthError(
        "resource_exhausted",
        `affiliate '${id}' has ${endpoints.length} endpoints, the most allowed; no more can be added`,
      );
    }
    endpoints.push({ data: endpoint, expiresAt });
    changed = true;
  }
  affiliateExpiresAt = Math.max(affiliateExpiresAt, expiresAt);
  return { affiliate: { id, data, expiresAt: affiliateExpiresAt, endpoints }, changed };
}

/**
 * What is left of the affiliate at `now`: undefined once the affiliate itself expired, else the
 * affiliate without its expired endpoints (the same object when none expired).
 */
export function withoutExpired(affiliate: StoredAffiliate, now: number): StoredAffiliate | undefined {
  if (affiliate.expiresAt < now) return undefined;
  if (affiliate.endpoints.every((e) => e.expiresAt >= now)) return affiliate;
  return { ...affiliate, endpoints: affiliate.endpoints.filter((e) => e.expiresAt >= now) };
}
