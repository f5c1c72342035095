import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import pino from "pino";
import { collectDefaultMetrics } from "prom-client";
import { type MetricsServer, startMetricsServer } from "../../agent/metrics-server.ts";
import { createErrorInterceptor } from "../../api/interceptors/error-interceptor.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import { clientIp } from "./client-ip.ts";
import { createClusterHandlers } from "./cluster-handlers.ts";
import { clientIpKey, clusterRoutes } from "./connect-routes.ts";
import { createDiscoveryMetrics, type DiscoveryMetrics } from "./discovery-metrics.ts";
import type { DiscoveryStore } from "./discovery-store.ts";
import { createGrpcFastPath } from "./grpc-fast-path.ts";
import { guardHandlers } from "./guarded-handlers.ts";
import { type HttpListener, listenHttp } from "./http-listener.ts";
import { landingPage } from "./landing-page.ts";
import { defaultRateLimit } from "./limits.ts";
import { createMemoryDiscoveryStore, type MemoryDiscoveryStore } from "./memory-store.ts";
import { createRateLimiter } from "./rate-limiter.ts";
import { readSnapshot, writeSnapshot } from "./snapshot-file.ts";

export interface DiscoveryServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM certificate and key; plaintext (h2c and HTTP/1.1) without. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Where to serve /metrics; none when absent. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /**
   * Another store (the etcd one, for several servers sharing state). Default: in memory, with
   * `snapshot` for durability.
   */
  readonly store?: DiscoveryStore;
  /** Memory store only: restored at start, written every `intervalMs` and at close. */
  readonly snapshot?: { readonly path: string; readonly intervalMs: number };
  /** How often expired affiliates and endpoints are removed; default 1 min. */
  readonly gcIntervalMs?: number;
  /** Sent to clients in Hello: they reconnect there. */
  readonly redirectEndpoint?: string;
  /** Take the client address from X-Real-IP / X-Forwarded-For (behind a proxy you trust). */
  readonly trustProxyHeaders?: boolean;
  /** Per client IP; `null` turns rate limiting off. Default 15/s, burst 60. */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number } | null;
  /** Changes a watcher may leave unread before it is ended with ABORTED; default 128. */
  readonly watchBuffer?: number;
  readonly version: string;
  readonly logger?: Logger;
}

export interface DiscoveryServer {
  /** `http://host:port` or `https://…`. */
  readonly url: string;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly store: DiscoveryStore;
  readonly metrics: DiscoveryMetrics;
  /** Runs a garbage collection now (it also runs every gcInterval). */
  collectGarbage(): Promise<void>;
  /** Writes a snapshot now (memory store with a snapshot path only). */
  saveSnapshot(): Promise<void>;
  /** Ends watches, stops listening, writes a last snapshot, closes the store. */
  close(): Promise<void>;
}

const maxMessageBytes = 64 * 1024;
const closeGraceMs = 2000;
const sweepIntervalMs = 60_000;

function checkInterval(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Cannot start the discovery service: '${name}' must be > 0, current value is ${value}`,
    );
  }
}

/** `plinth discovery serve`: the Cluster service on one port, plus metrics and the landing page. */
export async function createDiscoveryServer(options: DiscoveryServerOptions): Promise<DiscoveryServer> {
  checkInterval("gcIntervalMs", options.gcIntervalMs);
  checkInterval("snapshot.intervalMs", options.snapshot?.intervalMs);
  if (options.store && options.snapshot) {
    throw new TypeError(
      "Cannot start the discovery service: snapshots are for the in-memory store; a shared store keeps its own state",
    );
  }
  const log = options.logger ?? pino({ level: "silent" });
  let memory: MemoryDiscoveryStore | undefined;
  let store = options.store;
  if (!store) {
    const initial = options.snapshot ? await readSnapshot(options.snapshot.path) : undefined;
    memory = createMemoryDiscoveryStore({ initial, watchBuffer: options.watchBuffer });
    store = memory;
    if (initial) {
      const s = memory.stats();
      log.info({ path: options.snapshot?.path, ...s }, "restored the snapshot");
    }
  }
  const theStore = store;
  const metrics = createDiscoveryMetrics(() => theStore.stats());
  collectDefaultMetrics({ register: metrics.registry, prefix: "plinth_discovery_process_" });
  const rate = options.rateLimit === undefined ? defaultRateLimit : options.rateLimit;
  const limiter = rate ? createRateLimiter(rate) : undefined;
  const handlers = guardHandlers(
    createClusterHandlers({ store: theStore, redirectEndpoint: options.redirectEndpoint }),
    { limiter, metrics },
  );

  const shutdown = new AbortController();
  const trust = options.trustProxyHeaders ?? false;
  // Without proxy headers the address is the connection's: worked out once per connection.
  const peerIps = new WeakMap<object, ReturnType<typeof clientIp>>();
  const peerIp = (connection: object | undefined, remoteAddress: string | undefined) => {
    if (!connection) return undefined;
    if (!peerIps.has(connection)) peerIps.set(connection, clientIp({}, remoteAddress, false));
    return peerIps.get(connection);
  };
  const ipOf = (req: IncomingMessage | Http2ServerRequest) =>
    trust
      ? clientIp(req.headers, req.socket?.remoteAddress, true)
      : peerIp((req as Http2ServerRequest).stream?.session ?? req.socket, req.socket?.remoteAddress);
  const fast = createGrpcFastPath(handlers, {
    maxMessageBytes,
    context: (headers, session) => ({
      clientIp: trust
        ? clientIp(headers, session.socket?.remoteAddress, true)
        : peerIp(session, session.socket?.remoteAddress),
    }),
    shutdownSignal: shutdown.signal,
  });
  const connect = connectNodeAdapter({
    routes: clusterRoutes(handlers),
    interceptors: [createErrorInterceptor()],
    readMaxBytes: maxMessageBytes,
    shutdownSignal: shutdown.signal,
    contextValues: (req) => createContextValues().set(clientIpKey, ipOf(req)),
    fallback(req, res) {
      if ((req.method === "GET" || req.method === "HEAD") && (req.url === "/" || req.url?.startsWith("/?"))) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(req.method === "HEAD" ? "" : landingPage(options.version, theStore.stats()));
        return;
      }
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found: this is a discovery service (gRPC sidero.discovery.server.Cluster); see /\n");
    },
  });
  const listener: HttpListener = await listenHttp(
    (req, res) => connect(req as never, res as ServerResponse & Http2ServerResponse),
    { ...options.listen, tls: options.tls, streams: fast },
  );
  let metricsServer: MetricsServer | undefined;
  try {
    if (options.metricsListen)
      metricsServer = await startMetricsServer(metrics.registry, options.metricsListen);
  } catch (err) {
    await listener.close(0);
    throw err;
  }

  async function collectGarbage(): Promise<void> {
    try {
      const gc = await theStore.collectGarbage();
      metrics.gcRuns.inc();
      metrics.gcRemoved.inc({ what: "affiliates" }, gc.removedAffiliates);
      metrics.gcRemoved.inc({ what: "endpoints" }, gc.removedEndpoints);
      if (gc.removedAffiliates + gc.removedEndpoints > 0) log.debug(gc, "garbage collected");
    } catch (err) {
      log.warn({ err }, "garbage collection failed; retrying at the next interval");
    }
  }

  async function saveSnapshot(): Promise<void> {
    if (!memory || !options.snapshot) return;
    try {
      const started = performance.now();
      const size = await writeSnapshot(options.snapshot.path, memory.contents());
      metrics.snapshots.inc({ result: "ok" });
      log.debug({ size, ms: Math.round(performance.now() - started) }, "snapshot written");
    } catch (err) {
      metrics.snapshots.inc({ result: "error" });
      log.error({ err }, "writing the snapshot failed");
      throw err;
    }
  }

  // One snapshot at a time: a slow disk must not pile writes up.
  let snapshotting: Promise<void> | undefined;
  const snapshotNow = () => {
    snapshotting ??= saveSnapshot()
      .catch(() => {})
      .finally(() => {
        snapshotting = undefined;
      });
    return snapshotting;
  };
  const timers = [
    setInterval(() => void collectGarbage(), options.gcIntervalMs ?? 60_000),
    setInterval(() => limiter?.sweep(), sweepIntervalMs),
    ...(options.snapshot ? [setInterval(() => void snapshotNow(), options.snapshot.intervalMs)] : []),
  ];
  for (const t of timers) t.unref();

  const scheme = options.tls ? "https" : "http";
  const host = options.listen.host.includes(":") ? `[${options.listen.host}]` : options.listen.host;
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${host}:${listener.port}`,
    port: listener.port,
    metricsPort: metricsServer?.port,
    store: theStore,
    metrics,
    collectGarbage,
    async saveSnapshot() {
      await snapshotting;
      await saveSnapshot();
    },
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        const reason = new PlinthError("unavailable", "the discovery service is shutting down");
        shutdown.abort(reason);
        await theStore.close();
        await listener.close(closeGraceMs);
        await metricsServer?.close();
        await snapshotting;
        if (memory && options.snapshot) await saveSnapshot().catch(() => {});
      })();
      return closing;
    },
  };
}
