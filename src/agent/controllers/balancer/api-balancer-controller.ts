import type { Registry } from "prom-client";
import { type Balancer, type BalancerStatus, startBalancer } from "../../../balancer/index.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { APIBalancerSpec, APIBalancerStatus, apiBalancerId } from "../../resources/index.ts";

export const apiBalancerControllerName = "APIBalancerController";

export interface APIBalancerControllerOptions {
  /** Where the per-upstream metrics go (the agent's registry). */
  readonly registry?: Registry;
  /** Wakes this controller (`runtime.trigger`): called when an upstream's health changes. */
  readonly trigger?: () => void;
  /** Status refresh for latencies and open connections; default 10 s. */
  readonly refreshMs?: number;
  /** Retry of a refused spec (e.g. the port was taken); default 5 s. */
  readonly retryMs?: number;
}

type Status = SpecOf<typeof APIBalancerStatus>;

function statusOf(s: BalancerStatus | undefined, error: string | undefined): Status {
  const upstreams = (s?.upstreams ?? []).map((u) => ({
    address: u.address,
    health: u.health,
    ...(u.latencyMs !== undefined ? { latencyMs: Math.round(u.latencyMs * 100) / 100 } : {}),
    activeConnections: u.activeConnections,
    // Only while it matters: an old error of a healthy upstream would only churn the resource.
    ...(u.lastError !== undefined && u.health !== "healthy" ? { lastError: u.lastError } : {}),
  }));
  return {
    listen: s?.listen ?? "",
    dataPath: s?.dataPath ?? "node",
    healthyUpstreams: upstreams.filter((u) => u.health === "healthy").length,
    totalUpstreams: upstreams.length,
    activeConnections: s?.activeConnections ?? 0,
    upstreams,
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * Runs the API balancer the spec asks for and reports it as APIBalancerStatus. A spec change is
 * applied live (upstreams keep their health and connections); one the balancer refuses (a bad or
 * taken port) leaves it running as before, is shown in `error`, and is tried again later. The
 * balancer closes when the spec goes away or the runtime stops.
 */
export function createApiBalancerController(options: APIBalancerControllerOptions = {}): Controller {
  const refreshMs = options.refreshMs ?? 10_000;
  const retryMs = options.retryMs ?? 5000;
  let balancer: Balancer | undefined;
  let applied: string | undefined;
  let error: string | undefined;
  let stopSignal: AbortSignal | undefined;

  async function close(): Promise<void> {
    const b = balancer;
    balancer = undefined;
    applied = undefined;
    error = undefined;
    await b?.close();
  }

  return {
    name: apiBalancerControllerName,
    inputs: [{ namespace: "network", type: APIBalancerSpec.type, id: apiBalancerId, kind: "weak" }],
    outputs: [{ type: APIBalancerStatus.type, kind: "exclusive" }],
    async reconcile(ctx) {
      if (stopSignal !== ctx.signal) {
        stopSignal = ctx.signal;
        ctx.signal.addEventListener("abort", () => void close(), { once: true });
      }
      const out = ctx.track(APIBalancerStatus.kind());
      const spec = (await ctx.find(APIBalancerSpec.ptr(apiBalancerId)))?.spec;
      if (!spec) {
        await close();
        await out.cleanup();
        return;
      }
      const wanted = JSON.stringify(spec);
      if (wanted !== applied) {
        const settings = {
          host: spec.host,
          port: spec.port,
          dataPath: spec.dataPath,
          upstreams: spec.upstreams,
          healthCheck: spec.healthCheck,
        };
        try {
          if (balancer) await balancer.reconfigure(settings);
          else {
            balancer = await startBalancer({
              ...settings,
              log: ctx.log,
              ...(options.registry ? { registry: options.registry } : {}),
              ...(options.trigger ? { onChange: options.trigger } : {}),
            });
          }
          applied = wanted;
          error = undefined;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
          ctx.log.warn({ err }, "API balancer change refused; running as before");
        }
      }
      await out.apply(APIBalancerStatus.make(apiBalancerId, statusOf(balancer?.status(), error)));
      await out.cleanup();
      // No refresh once the runtime is stopping: a timer set now would outlive it.
      if (ctx.signal.aborted) return undefined;
      return { requeueAfterMs: error === undefined ? refreshMs : retryMs };
    },
  };
}
