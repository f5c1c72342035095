import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import pino from "pino";
import { parseHostPort } from "../agent/host-port.ts";
import { parseDuration } from "../config/duration.ts";
import { createDiscoveryServer } from "../discovery/server/discovery-server.ts";
import type { DiscoveryStore } from "../discovery/server/discovery-store.ts";
import { version } from "../version.ts";

interface ServeFlags {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  metrics: string;
  snapshotPath?: string;
  snapshotInterval: string;
  gcInterval: string;
  redirectEndpoint?: string;
  trustProxyHeaders?: boolean;
  rateLimit: string;
  rateBurst: string;
  watchBuffer: string;
  etcdEndpoints?: string;
  etcdPrefix: string;
  logLevel: string;
}

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new TypeError(`${flag} must be a positive duration like 30s or 10m, current value is '${text}'`);
  }
  return ms;
}

function count(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    throw new TypeError(`${flag} must be a number >= ${min}, current value is '${text}'`);
  }
  return n;
}

/** `plinth discovery serve`: the discovery service nodes use to find the other members of their cluster. */
export function registerDiscovery(program: Command): void {
  const discovery = program.command("discovery").description("the cluster discovery service");
  discovery
    .command("serve")
    .description("serve the discovery API (sidero.discovery.server.Cluster) until SIGTERM or SIGINT")
    .option("--listen <addr:port>", "gRPC address (also serves the landing page on GET /)", "0.0.0.0:3000")
    .option("--tls-cert <file>", "serve TLS with this certificate (PEM); plaintext h2c without")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--metrics <addr:port>", "Prometheus metrics address ('off' to disable)", "127.0.0.1:2122")
    .option("--snapshot-path <file>", "save the state here periodically and restore it at start")
    .option("--snapshot-interval <duration>", "how often to save the snapshot", "10m")
    .option("--gc-interval <duration>", "how often to remove expired affiliates and endpoints", "1m")
    .option("--redirect-endpoint <url>", "send clients to this endpoint in Hello")
    .option(
      "--trust-proxy-headers",
      "take the client IP from X-Real-IP / X-Forwarded-For (behind a trusted proxy)",
    )
    .option("--rate-limit <n>", "requests per second per client IP (0: no limit)", "15")
    .option("--rate-burst <n>", "requests a client IP may send at once", "60")
    .option("--watch-buffer <n>", "changes a watcher may leave unread before it is ended with ABORTED", "128")
    .option("--etcd-endpoints <urls>", "HA mode: keep the state in this etcd (comma-separated client URLs)")
    .option("--etcd-prefix <prefix>", "HA mode: key prefix in etcd", "plinth-discovery")
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .action(async (flags: ServeFlags) => {
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
        throw new TypeError("--tls-cert and --tls-key go together: give both or neither");
      }
      if (flags.etcdEndpoints && flags.snapshotPath) {
        throw new TypeError(
          "--snapshot-path is for the in-memory state; with --etcd-endpoints the state lives in etcd",
        );
      }
      const listen = parseHostPort(flags.listen, "--listen");
      const metricsListen =
        flags.metrics === "off" ? undefined : parseHostPort(flags.metrics, "--metrics", "127.0.0.1");
      const gcIntervalMs = duration("--gc-interval", flags.gcInterval);
      const snapshotIntervalMs = duration("--snapshot-interval", flags.snapshotInterval);
      const perSecond = count("--rate-limit", flags.rateLimit, 0);
      const burst = count("--rate-burst", flags.rateBurst, 1);
      const watchBuffer = count("--watch-buffer", flags.watchBuffer, 1);
      const tls =
        flags.tlsCert && flags.tlsKey
          ? { cert: await readFile(flags.tlsCert, "utf8"), key: await readFile(flags.tlsKey, "utf8") }
          : undefined;
      const logger = pino({ level: flags.logLevel }, pino.destination(2));
      let store: DiscoveryStore | undefined;
      if (flags.etcdEndpoints) {
        const { createEtcdDiscoveryStore } = await import("../discovery/server/etcd-store.ts");
        store = await createEtcdDiscoveryStore({
          endpoints: flags.etcdEndpoints.split(",").map((e) => e.trim()),
          prefix: flags.etcdPrefix,
          watchBuffer,
          logger,
        });
      }
      const server = await createDiscoveryServer({
        listen,
        tls,
        metricsListen,
        store,
        snapshot: flags.snapshotPath
          ? { path: flags.snapshotPath, intervalMs: snapshotIntervalMs }
          : undefined,
        gcIntervalMs,
        redirectEndpoint: flags.redirectEndpoint,
        trustProxyHeaders: flags.trustProxyHeaders ?? false,
        rateLimit: perSecond === 0 ? null : { perSecond, burst },
        watchBuffer,
        version,
        logger,
      });
      process.stderr.write(
        `plinth discovery: serving on ${server.url}${server.metricsPort ? ` (metrics on ${metricsListen?.host}:${server.metricsPort})` : ""}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stderr.write(`plinth discovery: ${signal}: stopping\n`);
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      await server.close();
    });
}
