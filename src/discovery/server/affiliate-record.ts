import { PlinthError } from "../../errors/plinth-error.ts";
import { discoveryLimits } from "./limits.ts";

// An affiliate as the server keeps it, and the rules that change it: how an update merges into
// what is stored, and what expires. Both store backends (memory and etcd) apply exactly these,
// so their answers cannot drift apart.
//
// What watchers see (id, data, the endpoints' bytes) is never changed in place: a change makes a
// new affiliate, so a change already queued for a watcher keeps showing what it was. Expiry
// times are not part of any message, and every refresh extends them: they are updated in place,
// which spares the busiest path (refreshes) any allocation.

export interface StoredEndpoint {
  /** Sealed by the client; opaque here. */
  readonly data: Uint8Array;
  /** Epoch milliseconds; extended in place. */
  expiresAt: number;
}

export interface StoredAffiliate {
  readonly id: string;
  /** Sealed by the client; empty while only endpoints were reported for it. */
  readonly data: Uint8Array;
  /** Epoch milliseconds; the whole affiliate goes then. Changed in place. */
  expiresAt: number;
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
 * (expiry extensions alone are not one: then `existing` itself comes back, its expiries
 * extended). Data sent resets the affiliate's expiry to now + ttl; an endpoint already stored
 * only has its expiry extended; a new one is appended, up to the per-affiliate limit
 * (resource_exhausted past it, nothing changed).
 */
export function mergeUpdate(
  existing: StoredAffiliate | undefined,
  id: string,
  update: AffiliateUpdate,
  now: number,
): { affiliate: StoredAffiliate; changed: boolean } {
  const expiresAt = now + update.ttlMs;
  const stored = existing?.endpoints ?? [];
  const known = update.endpoints.map((e) => stored.find((s) => sameBytes(s.data, e)));
  const fresh: Uint8Array[] = [];
  update.endpoints.forEach((e, i) => {
    if (!known[i] && !fresh.some((f) => sameBytes(f, e))) fresh.push(e);
  });
  if (stored.length + fresh.length > discoveryLimits.endpointsPerAffiliate) {
    throw new PlinthError(
      "resource_exhausted",
      `affiliate '${id}' has ${stored.length} endpoints, the most allowed is ${discoveryLimits.endpointsPerAffiliate}; ${fresh.length} more cannot be added`,
    );
  }
  for (const endpoint of known)
    if (endpoint && endpoint.expiresAt < expiresAt) endpoint.expiresAt = expiresAt;
  const hasData = update.data !== undefined && update.data.length > 0;
  const newData = hasData && (!existing || !sameBytes(existing.data, update.data!));
  // With data the expiry is exactly now + ttl (a shorter TTL shortens it); without, only longer.
  const affiliateExpiresAt = hasData || !existing ? expiresAt : Math.max(existing.expiresAt, expiresAt);
  if (existing && !newData && fresh.length === 0) {
    existing.expiresAt = affiliateExpiresAt;
    return { affiliate: existing, changed: false };
  }
  return {
    affiliate: {
      id,
      data: newData ? update.data! : (existing?.data ?? new Uint8Array()),
      expiresAt: affiliateExpiresAt,
      endpoints: fresh.length === 0 ? stored : [...stored, ...fresh.map((data) => ({ data, expiresAt }))],
    },
    changed: true,
  };
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
