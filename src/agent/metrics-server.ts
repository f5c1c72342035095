import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { PlinthError } from "../errors/plinth-error.ts";

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` in Prometheus text format; meant for a loopback address. */
export async function startMetricsServer(
  registry: Registry,
  listen: { host: string; port: number },
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found; metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new PlinthError(
          "unavailable",
          `cannot serve metrics on ${listen.host}:${listen.port}: ${err.code === "EADDRINUSE" ? "the address is in use" : err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : listen.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
