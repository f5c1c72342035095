import { parseIp } from "../config/net/ip.ts";
import { checkTiming } from "./health-checker.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "./upstream-address.ts";

/**
 * Where connections are forwarded: `node` (sockets in this process, portable), `kernel`
 * (nftables DNAT, see kernel-data-path.ts) or `auto` (kernel when nft and root are there).
 */
export type DataPath = "auto" | "node" | "kernel";
export const dataPaths: readonly DataPath[] = ["auto", "node", "kernel"];

/** What a running balancer can be changed to (see `Balancer.reconfigure`). */
export interface BalancerSettings {
  /** Default `node`. */
  readonly dataPath?: DataPath;
  /** Address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on; default 7445; 0 takes a free one. */
  readonly port?: number;
  /** `host:port` or `[v6]:port` of each upstream, in order of preference as a last resort. */
  readonly upstreams?: readonly string[];
  readonly healthCheck?: {
    /** Default 1000 ms. */
    readonly intervalMs?: number;
    /** Default 500 ms, at most the interval. */
    readonly timeoutMs?: number;
    /** Consecutive successful checks that bring an upstream back; default 2. */
    readonly rise?: number;
    /** Consecutive failed checks that take an upstream out; default 1. */
    readonly fall?: number;
  };
  /** Time a dial to an upstream may take before the next is tried; default the check timeout. */
  readonly dialTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed; default 10 min; 0 never. */
  readonly idleTimeoutMs?: number;
  /** After one direction ended, the other may stay open this long; default 60 s; 0 no limit. */
  readonly halfClosedTimeoutMs?: number;
  /**
   * Keep-alive probes towards the upstream start once a connection has been idle this long
   * (a short connection then costs no extra socket options); default 10 s; 0 never.
   */
  readonly keepAliveAfterMs?: number;
  /** See `PoolOptions.tolerance`. */
  readonly tolerance?: { readonly relative?: number; readonly absoluteMs?: number };
}

/** Settings with every default filled in and every value checked. */
export interface ResolvedSettings {
  readonly dataPath: DataPath;
  readonly host: string;
  readonly port: number;
  readonly upstreams: readonly UpstreamAddress[];
  readonly healthCheck: { intervalMs: number; timeoutMs: number; rise: number; fall: number };
  readonly dialTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly halfClosedTimeoutMs: number;
  readonly keepAliveAfterMs: number;
  readonly tolerance: { relative: number; absoluteMs: number };
}

function fail(field: string, rule: string, value: unknown): never {
  throw new RangeError(
    `Cannot configure API balancer: '${field}' must be ${rule}, current value is ${JSON.stringify(value)}`,
  );
}

function count(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) fail(field, "an integer >= 1", value);
  return value;
}

function duration(field: string, value: number, allowZero: boolean): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    fail(field, allowZero ? "a number of ms >= 0" : "a number of ms > 0", value);
  }
  return value;
}

/**
 * Fills in defaults and checks everything up front, throwing a RangeError or TypeError that
 * names the field and its value, so that a bad change is refused before anything is touched.
 */
export function resolveSettings(settings: BalancerSettings): ResolvedSettings {
  const host = settings.host ?? "127.0.0.1";
  if (parseIp(host) === undefined) fail("host", "an IP address of this host", host);
  const port = settings.port ?? 7445;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail("port", "an integer in 0-65535", port);
  const { intervalMs, timeoutMs } = checkTiming(settings.healthCheck ?? {});
  const keys = new Set<string>();
  const upstreams = (settings.upstreams ?? []).map(parseUpstreamAddress).filter((u) => {
    const seen = keys.has(u.key);
    keys.add(u.key);
    return !seen;
  });
  const relative = settings.tolerance?.relative ?? 0.5;
  const absoluteMs = settings.tolerance?.absoluteMs ?? 5;
  if (!(relative >= 0 && Number.isFinite(relative))) fail("tolerance.relative", "a number >= 0", relative);
  const dataPath = settings.dataPath ?? "node";
  if (!dataPaths.includes(dataPath)) fail("dataPath", `one of ${dataPaths.join(", ")}`, dataPath);
  return {
    dataPath,
    host,
    port,
    upstreams,
    healthCheck: {
      intervalMs,
      timeoutMs,
      rise: count("healthCheck.rise", settings.healthCheck?.rise ?? 2),
      fall: count("healthCheck.fall", settings.healthCheck?.fall ?? 1),
    },
    dialTimeoutMs: duration("dialTimeoutMs", settings.dialTimeoutMs ?? timeoutMs, false),
    idleTimeoutMs: duration("idleTimeoutMs", settings.idleTimeoutMs ?? 600_000, true),
    halfClosedTimeoutMs: duration("halfClosedTimeoutMs", settings.halfClosedTimeoutMs ?? 60_000, true),
    keepAliveAfterMs: duration("keepAliveAfterMs", settings.keepAliveAfterMs ?? 10_000, true),
    tolerance: { relative, absoluteMs: duration("tolerance.absoluteMs", absoluteMs, true) },
  };
}
