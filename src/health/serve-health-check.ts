import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GuardedHttp2SessionManager } from "../api/client/http2-session-manager.ts";
import {
  encodeForwardedCertificate,
  forwardedCertificateHeader,
} from "../api/fanout/forwarded-certificate.ts";
import { nodeUrl } from "../api/fanout/node-address.ts";
import { type HealthCheckRequest, MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { type HealthNode, healthProgress } from "./health-checks.ts";
import type { HealthProgress } from "./health-progress.ts";
import { defaultMinimums } from "./minimums.ts";

export interface ServeHealthCheckOptions {
  /** The caller's client certificate (DER): every check runs as the caller, never as this node. */
  readonly caller: Uint8Array;
  /** This node's certificate and key (a node certificate) and the API CA, PEM. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly defaultPort: number;
  /** The nodes to check when the request names none. */
  readonly clusterNodes: () => Promise<{ controlPlanes: string[]; workers: string[] }>;
  readonly signal: AbortSignal;
}

export const defaultHealthWaitMs = 120_000;

/**
 * The HealthCheck RPC: runs the health checks from this node against the others' APIs and yields
 * the progress. This node connects with its node certificate and passes the caller's on (as
 * fan-out does), so each node applies the caller's roles: a reader can check, and sees no more.
 */
export async function* serveHealthCheck(
  request: HealthCheckRequest,
  options: ServeHealthCheckOptions,
): AsyncGenerator<HealthProgress> {
  let controlPlanes = [...request.controlPlaneNodes];
  let workers = [...request.workerNodes];
  if (controlPlanes.length === 0 && workers.length === 0) {
    ({ controlPlanes, workers } = await options.clusterNodes());
  }
  if (controlPlanes.length === 0) {
    throw new PlinthError(
      "invalid_argument",
      "HealthCheck: no control-plane nodes: name them in 'control_plane_nodes' (this node knows of none)",
    );
  }
  const waitMs = request.waitTimeout
    ? Number(request.waitTimeout.seconds) * 1000 + Math.floor(request.waitTimeout.nanos / 1e6)
    : defaultHealthWaitMs;
  const forward: Interceptor = (next) => (req) => {
    req.header.set(forwardedCertificateHeader, encodeForwardedCertificate(options.caller));
    return next(req);
  };
  const managers: GuardedHttp2SessionManager[] = [];
  const nodes: HealthNode[] = [...controlPlanes, ...workers].map((address, i) => {
    const baseUrl = nodeUrl(address, options.defaultPort);
    const sessionManager = new GuardedHttp2SessionManager(baseUrl, {}, { ...options.tls });
    managers.push(sessionManager);
    const transport = createGrpcTransport({ baseUrl, sessionManager, interceptors: [forward] });
    return {
      address,
      role: i < controlPlanes.length ? "controlplane" : "worker",
      machine: createClient(MachineService, transport),
      resources: createClient(ResourceService, transport),
    };
  });
  try {
    yield {
      check: "",
      ok: true,
      final: false,
      detail: `checking ${controlPlanes.length} control planes and ${workers.length} workers`,
      done: false,
      healthy: false,
    };
    yield* healthProgress(nodes, {
      deadline: Date.now() + waitMs,
      minimums: {
        memoryBytes: Number(request.minMemoryBytes) || defaultMinimums.memoryBytes,
        diskBytes: Number(request.minDiskBytes) || defaultMinimums.diskBytes,
      },
      signal: options.signal,
    });
  } finally {
    for (const m of managers) m.abort();
  }
}
