import { createServer, type Server, type Socket } from "node:net";
import type { Registry } from "prom-client";
import { hasCode, PlinthError } from "../errors/plinth-error.ts";
import { addBalancerMetrics } from "./balancer-metrics.ts";
import { type BalancerSettings, type ResolvedSettings, resolveSettings } from "./balancer-settings.ts";
import type { BalancerStatus, UpstreamStatus } from "./balancer-status.ts";
import { createHealthChecker, type Probe, reasonOf } from "./health-checker.ts";
import { joinSockets } from "./join-sockets.ts";
import {
  installKernelDataPath,
  type KernelDataPath,
  kernelCapable,
  kernelDataPathUnavailable,
  type RunCommand,
} from "./kernel-data-path.ts";
import { listen } from "./listen.ts";
import { type Dial, dialTcp, probeTcp, probeWith } from "./node-dialer.ts";
import { upstreamKey } from "./upstream-address.ts";
import { createUpstreamPool, type Upstream } from "./upstream-pool.ts";
import { createUpstreamWatch } from "./upstream-watch.ts";

export interface BalancerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BalancerOptions extends BalancerSettings {
  /** How upstreams are dialled, for the data path and (unless `probe` is given) for checks. */
  readonly dial?: Dial;
  /** How an upstream is checked; default a TCP connect through `dial`. */
  readonly probe?: Probe;
  /** Prometheus registry for the per-upstream metrics. */
  readonly registry?: Registry;
  readonly log?: BalancerLog;
  /** How `nft` is run for the kernel data path; default a child process of this one. */
  readonly run?: RunCommand;
  /** How often the kernel data path's open connections are counted (conntrack); default 5 s. */
  readonly kernelCountIntervalMs?: number;
  /** Called after upstreams join or leave or change health, and after a reconfigure. */
  readonly onChange?: () => void;
}

export interface Balancer {
  /** The bound address (with the real port when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number };
  /**
   * Replaces the upstreams live: those that stay keep their health and connections, new ones are
   * checked at once. A bad address throws a TypeError and changes nothing.
   */
  setUpstreams(upstreams: readonly string[]): void;
  /**
   * Changes the settings (fields left out keep their values). Everything is checked and a new
   * listen address bound before anything changes, so a bad port or an address in use throws and
   * leaves the balancer as it was. Open connections stay on their upstreams.
   */
  reconfigure(settings: BalancerSettings): Promise<void>;
  status(): BalancerStatus;
  /** Stops listening and checking and closes every connection. */
  close(): Promise<void>;
}

// No keep-alive towards clients: they are local, and a dead local process closes its sockets.
const serverOptions = { allowHalfOpen: true, pauseOnConnect: true, noDelay: true } as const;

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly target: Upstream;
}

function merge(current: BalancerSettings, change: BalancerSettings): BalancerSettings {
  return {
    ...current,
    ...change,
    healthCheck: { ...current.healthCheck, ...change.healthCheck },
    tolerance: { ...current.tolerance, ...change.tolerance },
  };
}

function silent(): void {}

/**
 * A TCP load balancer: accepts on one address and proxies each connection to one upstream,
 * chosen by health and latency (see `UpstreamPool.candidates`). A failed dial marks the upstream
 * down and the next candidate is tried at once, so a dead upstream costs a new connection one
 * refused dial, not a failure; when no upstream answers the client is closed.
 */
export async function startBalancer(options: BalancerOptions = {}): Promise<Balancer> {
  let input: BalancerSettings = merge({}, options);
  let settings: ResolvedSettings = resolveSettings(input);
  const dial = options.dial ?? dialTcp;
  const log = options.log ?? { info: silent, warn: silent };
  const onChange = options.onChange ?? silent;
  let kernel: KernelDataPath | undefined;
  let kernelApplied: string | undefined;
  const pool = createUpstreamPool({
    ...settings.healthCheck,
    tolerance: settings.tolerance,
    onChange() {
      syncKernel();
      onChange();
    },
  });
  const live = new Set<Connection>();
  let dialing = 0;
  let dialsDone: (() => void) | undefined;
  let refused = 0;
  let closed = false;

  // No AbortSignal per connection: its listeners cost more than the rare wasted dial of a client
  // that left while its upstream was being dialled (each dial is bounded by the dial timeout).
  async function connectUpstream(): Promise<Omit<Connection, "client"> | undefined> {
    for (const target of pool.candidates()) {
      const started = performance.now();
      try {
        const socket = await dial(target.address, { timeoutMs: settings.dialTimeoutMs });
        if (target.inPool) pool.succeeded(target, performance.now() - started);
        return { upstream: socket, target };
      } catch (err) {
        if (closed) return undefined;
        // Out of local ports or descriptors says nothing about the upstream.
        if (hasCode(err, "resource_exhausted")) {
          log.warn({ err }, "cannot dial upstreams");
          return undefined;
        }
        if (target.inPool) pool.failed(target, "dial", reasonOf(err));
      }
    }
    return undefined;
  }

  function onConnection(client: Socket): void {
    if (closed) {
      client.destroy();
      return;
    }
    dialing++;
    // The client is paused until joined; an error on it meanwhile must not crash the process.
    client.on("error", silent);
    void connectUpstream().then((found) => {
      if (--dialing === 0) dialsDone?.();
      if (!found || closed || client.destroyed) {
        found?.upstream.destroy();
        if (!found && !closed) refused++;
        client.destroy();
        return;
      }
      const { upstream, target } = found;
      const conn: Connection = { client, upstream, target };
      live.add(conn);
      pool.opened(target);
      joinSockets(client, upstream, {
        idleTimeoutMs: settings.idleTimeoutMs,
        halfClosedTimeoutMs: settings.halfClosedTimeoutMs,
        keepAliveAfterMs: settings.keepAliveAfterMs,
        onClose(toUpstream, fromUpstream) {
          live.delete(conn);
          pool.closed(target, toUpstream, fromUpstream);
        },
      });
    });
  }

  function newServer(): Server {
    const server = createServer(serverOptions, onConnection);
    // Accept errors (e.g. out of descriptors) must not bring the agent down; Node retries.
    server.on("error", (err) => log.warn({ err }, "API balancer listener error"));
    return server;
  }

  /**
   * The upstreams the kernel spreads new connections over: the healthy ones within the latency
   * tolerance of the fastest, as the Node path's first choice. None healthy: an empty map, and
   * the Node listener tries every upstream in turn.
   */
  function kernelTargets(): Upstream[] {
    const healthy = pool.list().filter((u) => u.health === "healthy" && kernelCapable(u.address));
    let best = Number.POSITIVE_INFINITY;
    for (const u of healthy) best = Math.min(best, u.latencyMs ?? Number.POSITIVE_INFINITY);
    const limit = best + Math.max(best * settings.tolerance.relative, settings.tolerance.absoluteMs);
    return healthy.filter((u) => (u.latencyMs ?? 0) <= limit);
  }

  const probe = options.probe ?? (options.dial ? probeWith(options.dial) : probeTcp);
  // Kernel mode's passive signal: a watch connection to an upstream closed. The upstream is
  // re-checked at once and a few times over the next 1.5 s: a process being killed closes its
  // sockets one by one, and its listener may accept for a while after this connection was reset.
  // A failed re-check takes the upstream out as a failed dial does on the Node path.
  const recheckDelaysMs = [0, 50, 100, 200, 400, 800];
  const rechecks = new Set<ReturnType<typeof setTimeout>>();
  function recheck(upstream: Upstream, attempt: number): void {
    if (closed || !upstream.inPool || upstream.health !== "healthy") return;
    probe(upstream.address, AbortSignal.timeout(settings.healthCheck.timeoutMs)).then(
      () => {
        const delay = recheckDelaysMs[attempt + 1];
        if (delay === undefined || closed) return;
        const timer = setTimeout(() => {
          rechecks.delete(timer);
          recheck(upstream, attempt + 1);
        }, delay);
        rechecks.add(timer);
      },
      (err: unknown) => {
        if (!closed && upstream.inPool) pool.failed(upstream, "dial", reasonOf(err));
      },
    );
  }
  const watch = createUpstreamWatch({
    dial,
    timeoutMs: () => settings.dialTimeoutMs,
    onLost: (upstream) => recheck(upstream, 0),
  });

  /** Rewrites the kernel's map when the set changed; a failed rewrite is tried again next time. */
  function syncKernel(): void {
    const path = kernel;
    if (!path || closed) {
      watch.sync([]);
      return;
    }
    const upstreams = kernelTargets();
    watch.sync(upstreams);
    const targets = upstreams.map((u) => u.address);
    const key = targets.map((t) => t.key).join(",");
    if (key === kernelApplied) return;
    kernelApplied = key;
    path.setTargets(targets).then(
      () => {
        if (path === kernel) onChange();
      },
      (err: unknown) => {
        if (kernelApplied === key) kernelApplied = undefined;
        log.warn({ err }, "cannot update the API balancer's kernel data path");
      },
    );
  }

  /** The kernel data path for `next`, or undefined for the Node path; `kernel` fails loudly. */
  async function kernelFor(next: ResolvedSettings, port: number): Promise<KernelDataPath | undefined> {
    if (next.dataPath === "node") return undefined;
    const unavailable = await kernelDataPathUnavailable(next.host);
    if (unavailable !== undefined) {
      if (next.dataPath === "auto") return undefined;
      throw new PlinthError(
        "failed_precondition",
        `Cannot use the kernel data path for the API balancer: ${unavailable}`,
      );
    }
    try {
      return await installKernelDataPath({
        host: next.host,
        port,
        ...(options.run ? { run: options.run } : {}),
      });
    } catch (err) {
      if (next.dataPath === "kernel") throw err;
      log.warn({ err }, "kernel data path unavailable; the API balancer forwards in Node");
      return undefined;
    }
  }

  let server = newServer();
  let bound = await listen(server, settings.host, settings.port);
  try {
    kernel = await kernelFor(settings, bound.port);
  } catch (err) {
    await new Promise((resolve) => server.close(resolve));
    throw err;
  }
  const checker = createHealthChecker(pool, {
    ...settings.healthCheck,
    probe,
  });
  pool.set(settings.upstreams);
  // Latencies move tiers without a change of health: the kernel's set is re-derived each interval.
  let kernelTimer = setInterval(syncKernel, settings.healthCheck.intervalMs);
  kernelTimer.unref();
  // The kernel's open connections per upstream, for the status: counted now and then, not per call.
  let kernelCounts = new Map<string, number>();
  let counting = false;
  function countKernel(): void {
    const path = kernel;
    if (!path) kernelCounts = new Map();
    if (!path || closed || counting) return;
    counting = true;
    path
      .countConnections()
      .then(
        (counts) => {
          if (path === kernel) kernelCounts = counts ?? new Map();
        },
        (err: unknown) => log.warn({ err }, "cannot count the kernel data path's connections"),
      )
      .finally(() => {
        counting = false;
      });
  }
  const countTimer = setInterval(countKernel, options.kernelCountIntervalMs ?? 5000);
  countTimer.unref();
  const removeMetrics = options.registry ? addBalancerMetrics(options.registry, status) : silent;
  log.info({ listen: upstreamKey(bound.host, bound.port) }, "API balancer listening");

  function applyUpstreams(next: ResolvedSettings["upstreams"]): void {
    const { added, removed } = pool.set(next);
    for (const u of added) checker.checkNow(u);
    if (added.length > 0 || removed.length > 0) {
      log.info(
        { added: added.map((u) => u.address.key), removed: removed.map((u) => u.address.key) },
        "API balancer upstreams changed",
      );
    }
  }

  function status(): BalancerStatus {
    const openBytes = new Map<Upstream, [number, number]>();
    for (const c of live) {
      const [to, from] = openBytes.get(c.target) ?? [0, 0];
      openBytes.set(c.target, [to + c.client.bytesRead, from + c.client.bytesWritten]);
    }
    let inKernel = 0;
    for (const n of kernelCounts.values()) inKernel += n;
    const upstreams = pool.list().map((u): UpstreamStatus => {
      const [to, from] = openBytes.get(u) ?? [0, 0];
      return {
        address: u.address.key,
        health: u.health,
        latencyMs: u.latencyMs,
        activeConnections: u.activeConnections + (kernelCounts.get(u.address.key) ?? 0),
        connectionsTotal: u.connectionsTotal,
        bytesToUpstream: u.closedBytesToUpstream + to,
        bytesFromUpstream: u.closedBytesFromUpstream + from,
        dialErrors: u.dialErrors,
        checkFailures: u.checkFailures,
        lastError: u.lastError,
      };
    });
    return {
      listen: upstreamKey(bound.host, bound.port),
      dataPath: kernel ? "kernel" : "node",
      kernelUpstreams: kernel?.targets ?? [],
      activeConnections: live.size + inKernel,
      refusedConnections: refused,
      upstreams,
    };
  }

  return {
    get address() {
      return bound;
    },
    setUpstreams(upstreams) {
      if (closed) throw new Error("Cannot set upstreams: the API balancer is closed");
      const next = resolveSettings({ ...input, upstreams });
      input = { ...input, upstreams };
      settings = next;
      applyUpstreams(next.upstreams);
    },
    async reconfigure(change) {
      if (closed) throw new Error("Cannot reconfigure: the API balancer is closed");
      const nextInput = merge(input, change);
      const next = resolveSettings(nextInput);
      const moved = next.host !== settings.host || next.port !== settings.port;
      const replacement = moved ? newServer() : undefined;
      const nextBound = replacement ? await listen(replacement, next.host, next.port) : bound;
      let nextKernel = kernel;
      if (next.dataPath !== settings.dataPath || (moved && kernel)) {
        try {
          // A new table replaces the old one (same name) in one transaction.
          nextKernel = await kernelFor(next, nextBound.port);
        } catch (err) {
          replacement?.close();
          throw err;
        }
        if (kernel && !nextKernel) {
          await kernel.remove().catch((err: unknown) => {
            log.warn({ err }, "cannot remove the API balancer's kernel data path");
          });
        }
      }
      kernel = nextKernel;
      kernelApplied = undefined;
      if (replacement) {
        const old = server;
        server = replacement;
        bound = nextBound;
        old.close();
        log.info({ listen: upstreamKey(bound.host, bound.port) }, "API balancer moved");
      }
      input = nextInput;
      settings = next;
      pool.configure({ ...next.healthCheck, tolerance: next.tolerance });
      checker.configure(next.healthCheck);
      applyUpstreams(next.upstreams);
      clearInterval(kernelTimer);
      kernelTimer = setInterval(syncKernel, settings.healthCheck.intervalMs);
      kernelTimer.unref();
      syncKernel();
      onChange();
    },
    status,
    async close() {
      if (closed) return;
      closed = true;
      removeMetrics();
      clearInterval(kernelTimer);
      clearInterval(countTimer);
      watch.close();
      for (const timer of rechecks) clearTimeout(timer);
      const removing = kernel?.remove().catch((err: unknown) => {
        log.warn({ err }, "cannot remove the API balancer's kernel data path");
      });
      kernel = undefined;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const dialsEnded = dialing === 0 ? undefined : new Promise<void>((resolve) => (dialsDone = resolve));
      for (const c of live) {
        c.client.destroy();
        c.upstream.destroy();
      }
      await checker.stop();
      await removing;
      await dialsEnded;
      await stopped;
    },
  };
}
