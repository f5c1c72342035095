import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const apiBalancerId = "local";

/**
 * How the API balancer runs: from the `APIBalancer` document (or its defaults), the cluster's
 * control-plane endpoint and every control plane known from membership (APIBalancerConfigController).
 */
export const APIBalancerSpec = defineResource({
  type: "APIBalancerSpec",
  namespace: "network",
  aliases: ["apibalancerspecs"],
  printColumns: [
    { name: "Host", path: "host" },
    { name: "Port", path: "port" },
    { name: "Upstreams", path: "upstreams" },
  ],
  schema: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** auto: the kernel (nftables) when it can, else Node. */
    dataPath: z.enum(["auto", "node", "kernel"]),
    /** `host:port` of each upstream: the endpoint first, then the control planes. */
    upstreams: z.array(z.string()),
    healthCheck: z.strictObject({
      intervalMs: z.number().positive(),
      timeoutMs: z.number().positive(),
    }),
  }),
});

const upstreamStatus = z.strictObject({
  /** `host:port`. */
  address: z.string(),
  health: z.enum(["unknown", "healthy", "unhealthy"]),
  /** Lowest recent connect time, ms (0.01 ms steps); absent until a connect succeeded. */
  latencyMs: z.number().nonnegative().optional(),
  activeConnections: z.number().int().nonnegative(),
  /** Why the last check or dial failed. */
  lastError: z.string().optional(),
});

/**
 * The API balancer as it runs (APIBalancerController): where it listens and how each upstream
 * fares. Counters (connections, bytes, dial errors) are metrics, not fields, so that traffic does
 * not rewrite this resource.
 */
export const APIBalancerStatus = defineResource({
  type: "APIBalancerStatus",
  namespace: "network",
  aliases: ["apibalancer", "apibalancers", "apibalancerstatuses"],
  printColumns: [
    { name: "Listen", path: "listen" },
    { name: "Data Path", path: "dataPath" },
    { name: "Healthy", path: "healthyUpstreams" },
    { name: "Upstreams", path: "totalUpstreams" },
    { name: "Connections", path: "activeConnections" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    /** The bound `host:port`; empty when the balancer could not start. */
    listen: z.string(),
    /** Where new connections are forwarded: the kernel (nftables DNAT) or the agent's process. */
    dataPath: z.enum(["node", "kernel"]),
    healthyUpstreams: z.number().int().nonnegative(),
    totalUpstreams: z.number().int().nonnegative(),
    activeConnections: z.number().int().nonnegative(),
    upstreams: z.array(upstreamStatus),
    /** The last change that was refused (bad port, address in use): the balancer runs as before. */
    error: z.string().optional(),
  }),
});
