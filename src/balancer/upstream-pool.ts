import type { UpstreamAddress } from "./upstream-address.ts";

/** unknown: not checked yet (usable, after the measured ones); unhealthy: gets no new connections. */
export type UpstreamHealth = "unknown" | "healthy" | "unhealthy";

/** One upstream as the pool tracks it; the data path and the checker report on it. */
export interface Upstream {
  readonly address: UpstreamAddress;
  readonly health: UpstreamHealth;
  /**
   * Lowest connect time (checks and dials) among the last `latencyWindow`, ms; undefined until
   * one succeeded. A moving minimum rather than an average: a delay of this process's event loop
   * only ever adds to a sample, so the minimum filters it out, while a slower path to the upstream
   * shows in every sample (the way TCP estimates its minimum round trip).
   */
  readonly latencyMs: number | undefined;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  readonly activeConnections: number;
  readonly connectionsTotal: number;
  readonly dialErrors: number;
  readonly checkFailures: number;
  /** Bytes of connections already closed (open ones are counted by their owner). */
  readonly closedBytesToUpstream: number;
  readonly closedBytesFromUpstream: number;
  readonly lastError: string | undefined;
  /** False once the upstream left the pool; its open connections still report on it. */
  readonly inPool: boolean;
}

export interface PoolOptions {
  /** Consecutive successful checks that bring an unhealthy upstream back; default 2. */
  readonly rise?: number;
  /** Consecutive failed checks that take an upstream out; default 1 (a failed dial always does). */
  readonly fall?: number;
  /** Samples the latency is the minimum of; default 8. */
  readonly latencyWindow?: number;
  /**
   * Upstreams within `best + max(best × relative, absoluteMs)` of the fastest healthy one share
   * new connections; defaults 0.5 and 5 ms (above the noise of event-loop delays in measured connect times).
   */
  readonly tolerance?: { readonly relative?: number; readonly absoluteMs?: number };
  /** Called after a change of membership or health (not of latency alone). */
  readonly onChange?: () => void;
}

export interface UpstreamPool {
  /** Replaces the set: keeps what stays (with its health), adds the new, drops the rest. */
  set(addresses: readonly UpstreamAddress[]): { added: readonly Upstream[]; removed: readonly Upstream[] };
  /** Upstreams in the pool, in the order they were given. */
  list(): readonly Upstream[];
  /**
   * The order in which to try upstreams for one new connection: healthy ones within the latency
   * tolerance of the fastest (least connections first, round-robin among equals), other healthy
   * ones by latency, unchecked ones, then unhealthy ones in the given order as a last resort.
   */
  candidates(): readonly Upstream[];
  /** A check or dial connected in `latencyMs`. */
  succeeded(upstream: Upstream, latencyMs: number): void;
  /** A check failed (out after `fall` in a row) or a dial failed (out at once). */
  failed(upstream: Upstream, source: "check" | "dial", reason: string): void;
  opened(upstream: Upstream): void;
  closed(upstream: Upstream, bytesToUpstream: number, bytesFromUpstream: number): void;
  /** Changes rise/fall/tolerance for the upstreams already in the pool too. */
  configure(options: Omit<PoolOptions, "onChange">): void;
}

type MutableUpstream = { -readonly [K in keyof Upstream]: Upstream[K] } & {
  /** Ring of the latest connect times. */
  samples: number[];
  next: number;
};

function positiveInt(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot configure upstream pool: '${what}' must be an integer >= 1, current value is ${value}`,
    );
  }
  return value;
}

function nonNegative(what: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`Cannot configure upstream pool: '${what}' must be >= 0, current value is ${value}`);
  }
  return value;
}

interface Settings {
  rise: number;
  fall: number;
  window: number;
  relative: number;
  absoluteMs: number;
}

function settingsOf(options: Omit<PoolOptions, "onChange">): Settings {
  return {
    rise: positiveInt("rise", options.rise ?? 2),
    fall: positiveInt("fall", options.fall ?? 1),
    window: positiveInt("latencyWindow", options.latencyWindow ?? 8),
    relative: nonNegative("tolerance.relative", options.tolerance?.relative ?? 0.5),
    absoluteMs: nonNegative("tolerance.absoluteMs", options.tolerance?.absoluteMs ?? 5),
  };
}

/**
 * Fewest open connections first; stable, so that among equally loaded upstreams the rotation
 * decides. An insertion sort: the lists are a handful long and this runs per connection.
 */
function byConnections(list: Upstream[]): Upstream[] {
  for (let i = 1; i < list.length; i++) {
    const item = list[i]!;
    let j = i - 1;
    while (j >= 0 && list[j]!.activeConnections > item.activeConnections) {
      list[j + 1] = list[j]!;
      j--;
    }
    list[j + 1] = item;
  }
  return list;
}

/** The list starting at its `turn % length`th element (round-robin). */
function rotate<T>(list: T[], turn: number): T[] {
  const r = list.length > 1 ? turn % list.length : 0;
  return r === 0 ? list : [...list.slice(r), ...list.slice(0, r)];
}

/** Health, latency and counters of a set of upstreams, and the choice among them. No I/O. */
export function createUpstreamPool(options: PoolOptions = {}): UpstreamPool {
  let settings = settingsOf(options);
  const notify = options.onChange ?? (() => {});
  let members: MutableUpstream[] = [];
  let turn = 0;

  function setHealth(u: MutableUpstream, health: UpstreamHealth): void {
    if (u.health === health) return;
    u.health = health;
    if (u.inPool) notify();
  }

  function byLatency(a: Upstream, b: Upstream): number {
    return (a.latencyMs ?? 0) - (b.latencyMs ?? 0);
  }

  return {
    set(addresses) {
      const wanted = new Map(addresses.map((a) => [a.key, a]));
      const kept = new Map(members.map((m) => [m.address.key, m]));
      const removed = members.filter((m) => !wanted.has(m.address.key));
      const added: MutableUpstream[] = [];
      const next = [...wanted.values()].map((address) => {
        const existing = kept.get(address.key);
        if (existing) return existing;
        const fresh: MutableUpstream = {
          address,
          health: "unknown",
          latencyMs: undefined,
          consecutiveSuccesses: 0,
          consecutiveFailures: 0,
          activeConnections: 0,
          connectionsTotal: 0,
          dialErrors: 0,
          checkFailures: 0,
          closedBytesToUpstream: 0,
          closedBytesFromUpstream: 0,
          lastError: undefined,
          inPool: true,
          samples: [],
          next: 0,
        };
        added.push(fresh);
        return fresh;
      });
      for (const r of removed) r.inPool = false;
      members = next;
      if (added.length > 0 || removed.length > 0) notify();
      return { added, removed };
    },

    list: () => members,

    candidates() {
      // One pass per new connection, allocation-light: this runs on the data path.
      const start = turn++;
      let best = Number.POSITIVE_INFINITY;
      for (const m of members) if (m.health === "healthy" && m.latencyMs! < best) best = m.latencyMs!;
      const limit = best + Math.max(best * settings.relative, settings.absoluteMs);
      const near: Upstream[] = [];
      const far: Upstream[] = [];
      const unknown: Upstream[] = [];
      for (const m of members) {
        if (m.health === "healthy") (m.latencyMs! <= limit ? near : far).push(m);
        else if (m.health === "unknown") unknown.push(m);
      }
      const order = byConnections(rotate(near, start));
      if (far.length > 1) far.sort(byLatency);
      for (const m of far) order.push(m);
      for (const m of rotate(unknown, start)) order.push(m);
      for (const m of members) if (m.health === "unhealthy") order.push(m);
      return order;
    },

    succeeded(upstream, latencyMs) {
      const u = upstream as MutableUpstream;
      if (u.samples.length > settings.window) u.samples.length = settings.window;
      u.next %= settings.window;
      u.samples[u.next++] = latencyMs;
      u.latencyMs = Math.min(...u.samples);
      u.consecutiveFailures = 0;
      u.consecutiveSuccesses++;
      if (u.health === "unknown" || (u.health === "unhealthy" && u.consecutiveSuccesses >= settings.rise)) {
        setHealth(u, "healthy");
      }
    },

    failed(upstream, source, reason) {
      const u = upstream as MutableUpstream;
      u.consecutiveSuccesses = 0;
      u.consecutiveFailures++;
      u.lastError = reason;
      if (source === "dial") u.dialErrors++;
      else u.checkFailures++;
      if (source === "dial" || u.consecutiveFailures >= settings.fall) setHealth(u, "unhealthy");
    },

    opened(upstream) {
      const u = upstream as MutableUpstream;
      u.activeConnections++;
      u.connectionsTotal++;
    },

    closed(upstream, toUpstream, fromUpstream) {
      const u = upstream as MutableUpstream;
      u.activeConnections--;
      u.closedBytesToUpstream += toUpstream;
      u.closedBytesFromUpstream += fromUpstream;
    },

    configure(next) {
      settings = settingsOf(next);
    },
  };
}
