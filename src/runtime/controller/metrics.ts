import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Per-controller figures, exposed in Prometheus format by the agent's metrics endpoint. */
export interface ControllerMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<"controller">;
  readonly errors: Counter<"controller">;
  readonly duration: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
}

const byRegistry = new WeakMap<Registry, ControllerMetrics>();

/** The controller metrics of a registry, registered once (runtimes come and go on reboot). */
export function createControllerMetrics(registry: Registry = new Registry()): ControllerMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: ControllerMetrics = {
    registry,
    reconciles: new Counter({
      name: "plinth_controller_reconciles_total",
      help: "Reconcile runs per controller",
      labelNames: ["controller"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "plinth_controller_reconcile_errors_total",
      help: "Reconcile runs that failed (the controller is restarted with backoff)",
      labelNames: ["controller"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "plinth_controller_reconcile_duration_seconds",
      help: "Time one reconcile run took",
      labelNames: ["controller"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "plinth_controller_queue_depth",
      help: "Resources waiting in a queue controller",
      labelNames: ["controller"],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
