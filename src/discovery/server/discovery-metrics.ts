import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ClusterStats } from "./cluster-table.ts";

/** Why a request was refused, for `plinth_discovery_rejections_total`. */
export type RejectionReason = "invalid_argument" | "limit" | "rate_limit" | "watch_overflow";

export interface DiscoveryMetrics {
  readonly registry: Registry;
  /** Calls by method and gRPC code name (`OK`, `InvalidArgument`, …). */
  readonly calls: Counter<"method" | "code">;
  /** Unary call latency by method (a watch lasts as long as the client keeps it). */
  readonly duration: Histogram<"method">;
  readonly rejections: Counter<"reason">;
  readonly gcRuns: Counter;
  readonly gcRemoved: Counter<"what">;
  readonly snapshots: Counter<"result">;
}

/** The service's metrics; the state gauges read `stats` when scraped. */
export function createDiscoveryMetrics(stats: () => ClusterStats): DiscoveryMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, read: (s: ClusterStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(stats()));
      },
    });
  gauge("plinth_discovery_clusters", "Clusters with at least one affiliate", (s) => s.clusters);
  gauge("plinth_discovery_affiliates", "Affiliates in every cluster", (s) => s.affiliates);
  gauge("plinth_discovery_endpoints", "Endpoints of every affiliate", (s) => s.endpoints);
  gauge("plinth_discovery_watchers", "Open Watch calls", (s) => s.watchers);
  return {
    registry,
    calls: new Counter({
      name: "plinth_discovery_calls_total",
      help: "Cluster service calls by method and gRPC status code",
      labelNames: ["method", "code"],
      registers,
    }),
    duration: new Histogram({
      name: "plinth_discovery_call_duration_seconds",
      help: "Time a unary call took, rate-limit wait included",
      labelNames: ["method"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    rejections: new Counter({
      name: "plinth_discovery_rejections_total",
      help: "Requests refused: invalid arguments, limits, rate limiting, watchers that fell behind",
      labelNames: ["reason"],
      registers,
    }),
    gcRuns: new Counter({
      name: "plinth_discovery_gc_runs_total",
      help: "Garbage collections of expired affiliates and endpoints",
      registers,
    }),
    gcRemoved: new Counter({
      name: "plinth_discovery_gc_removed_total",
      help: "Expired affiliates and endpoints removed by garbage collection",
      labelNames: ["what"],
      registers,
    }),
    snapshots: new Counter({
      name: "plinth_discovery_snapshots_total",
      help: "Snapshots written, by result",
      labelNames: ["result"],
      registers,
    }),
  };
}
