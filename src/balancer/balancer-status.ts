import type { UpstreamHealth } from "./upstream-pool.ts";

/** One upstream as the balancer reports it (to `APIBalancerStatus` and metrics). */
export interface UpstreamStatus {
  /** `host:port`. */
  readonly address: string;
  readonly health: UpstreamHealth;
  /** Moving average of connect times, ms; undefined until a connect succeeded. */
  readonly latencyMs: number | undefined;
  /** Open connections: the Node listener's, plus the kernel's as last counted (conntrack). */
  readonly activeConnections: number;
  readonly connectionsTotal: number;
  /** Bytes of closed and open connections, client → upstream. */
  readonly bytesToUpstream: number;
  /** Bytes of closed and open connections, upstream → client. */
  readonly bytesFromUpstream: number;
  readonly dialErrors: number;
  readonly checkFailures: number;
  readonly lastError: string | undefined;
}

export interface BalancerStatus {
  /** The bound address, `host:port`. */
  readonly listen: string;
  /** Where new connections are forwarded. */
  readonly dataPath: "node" | "kernel";
  /** With the kernel data path: the upstreams its map spreads new connections over. */
  readonly kernelUpstreams: readonly string[];
  readonly activeConnections: number;
  /** Connections closed at once because no upstream could be reached. */
  readonly refusedConnections: number;
  /** Upstreams in the pool, in the order given. */
  readonly upstreams: readonly UpstreamStatus[];
}
