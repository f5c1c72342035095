import { Counter, Gauge, type Registry } from "prom-client";
import type { BalancerStatus } from "./balancer-status.ts";

type Source = () => BalancerStatus;

interface Metrics {
  readonly sources: Set<Source>;
}

const byRegistry = new WeakMap<Registry, Metrics>();

/**
 * Per-upstream figures, read from the balancers' status at scrape time (nothing is counted on
 * the data path for them). Registered once per registry; each balancer adds itself as a source
 * and removes itself on close, so a restarted balancer reuses the same metrics.
 */
export function addBalancerMetrics(registry: Registry, source: Source): () => void {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    const sources = new Set<Source>();
    metrics = { sources };
    byRegistry.set(registry, metrics);
    const upstreams = () => [...sources].flatMap((s) => s().upstreams);
    const perUpstream = (
      kind: "counter" | "gauge",
      name: string,
      help: string,
      read: (u: BalancerStatus["upstreams"][number]) => number,
    ) => {
      const Metric = kind === "counter" ? Counter : Gauge;
      new Metric({
        name,
        help,
        labelNames: ["upstream"],
        registers: [registry],
        collect(this: Counter<"upstream"> | Gauge<"upstream">) {
          this.reset();
          for (const u of upstreams()) {
            if (this instanceof Counter) this.inc({ upstream: u.address }, read(u));
            else this.set({ upstream: u.address }, read(u));
          }
        },
      });
    };
    perUpstream(
      "counter",
      "plinth_balancer_connections_total",
      "Connections proxied to the upstream",
      (u) => u.connectionsTotal,
    );
    perUpstream(
      "gauge",
      "plinth_balancer_active_connections",
      "Open connections to the upstream",
      (u) => u.activeConnections,
    );
    perUpstream(
      "counter",
      "plinth_balancer_sent_bytes_total",
      "Bytes sent to the upstream",
      (u) => u.bytesToUpstream,
    );
    perUpstream(
      "counter",
      "plinth_balancer_received_bytes_total",
      "Bytes received from the upstream",
      (u) => u.bytesFromUpstream,
    );
    perUpstream(
      "counter",
      "plinth_balancer_dial_errors_total",
      "Failed dials to the upstream",
      (u) => u.dialErrors,
    );
    perUpstream(
      "counter",
      "plinth_balancer_check_failures_total",
      "Failed health checks of the upstream",
      (u) => u.checkFailures,
    );
    perUpstream(
      "gauge",
      "plinth_balancer_upstream_healthy",
      "1 when the upstream gets new connections",
      (u) => (u.health === "unhealthy" ? 0 : 1),
    );
    perUpstream(
      "gauge",
      "plinth_balancer_upstream_latency_seconds",
      "Moving average of connect times",
      (u) => (u.latencyMs ?? Number.NaN) / 1000,
    );
    new Counter({
      name: "plinth_balancer_refused_connections_total",
      help: "Connections closed because no upstream could be reached",
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        this.inc([...sources].reduce((n, s) => n + s().refusedConnections, 0));
      },
    });
  }
  const { sources } = metrics;
  sources.add(source);
  return () => sources.delete(source);
}
