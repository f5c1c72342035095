import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { PlinthError } from "../errors/plinth-error.ts";
import { identityKey } from "./auth/identity.ts";
import { createPeerIdentityResolver } from "./auth/peer-identity.ts";
import { fanoutRouter } from "./fanout/fanout-service.ts";
import type { NodeClientsOptions } from "./fanout/node-clients.ts";
import { createNodeClients } from "./fanout/node-clients.ts";
import { createApiGrpcFastPath } from "./grpc-fast-path.ts";
import { routeStreams } from "./grpc-wire/route-streams.ts";
import { createAuthInterceptor } from "./interceptors/auth-interceptor.ts";
import { createErrorInterceptor } from "./interceptors/error-interceptor.ts";
import { captureUnaryRoutes, type UnaryRoutes } from "./unary-route-capture.ts";

export interface ApiServerTlsOptions {
  /** The server certificate and key, PEM. */
  readonly cert: string;
  readonly key: string;
  /** The API CA, PEM: client certificates (and forwarded ones) must be signed by it. */
  readonly ca?: string | readonly string[];
  /**
   * Ask clients for a certificate. Off only in maintenance mode. A missing or invalid certificate
   * does not fail the TLS handshake: the call is answered UNAUTHENTICATED, saying why.
   */
  readonly requestClientCert: boolean;
}

export interface ApiServerOptions {
  /** Registers the services, e.g. `(r) => r.service(ResourceService, impl)`. */
  readonly routes: (router: ConnectRouter) => void;
  readonly tls: ApiServerTlsOptions;
  readonly listen: { readonly host: string; readonly port: number };
  /** Largest request message accepted; default 4 MiB (gRPC's default). */
  readonly maxMessageBytes?: number;
  /** Serve only ApplyConfiguration and Version, to anyone (a machine without config). */
  readonly maintenance?: boolean;
  /**
   * Enables fan-out to the nodes a call names in its `nodes` metadata, for every service the
   * routes register: how to reach the other nodes' APIs.
   */
  readonly fanout?: Omit<NodeClientsOptions, "signal" | "maxMessageBytes"> & { readonly timeoutMs?: number };
  /** Run after authentication, e.g. metrics. */
  readonly interceptors?: readonly Interceptor[];
  /** Aborting closes the server, like close(). */
  readonly signal?: AbortSignal;
}

export interface ApiServer {
  readonly host: string;
  readonly port: number;
  /** "https://host:port". */
  readonly url: string;
  /** Ends open streams, closes connections and stops listening. */
  close(): Promise<void>;
}

const defaultMaxMessageBytes = 4 * 1024 * 1024;
/** How long open calls may take to finish when the server closes. */
const closeGraceMs = 2000;

/**
 * Serves the machine API over HTTP/2 with TLS (HTTP/1.1 too, for gRPC-Web and Connect clients
 * that cannot use HTTP/2): gRPC, gRPC-Web and Connect on one port. Every call passes the error
 * interceptor (PlinthError → ConnectError), the auth interceptor (identity from the TLS peer
 * certificate vs. the access table), then the service, fanned out when the call names nodes.
 * Plain gRPC unary calls take a direct path with the same check (grpc-fast-path.ts).
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0) {
    throw new RangeError(
      `Cannot create the API server: 'maxMessageBytes' must be a positive integer, current value is ${maxMessageBytes}`,
    );
  }
  if (options.tls.requestClientCert && !options.tls.ca) {
    throw new TypeError(
      "Cannot create the API server: 'tls.ca' is required when 'tls.requestClientCert' is set",
    );
  }
  const shutdown = new AbortController();
  const identity = createPeerIdentityResolver({
    requestClientCert: options.tls.requestClientCert,
    ca: options.tls.ca,
  });
  const interceptors: Interceptor[] = [
    createErrorInterceptor(),
    createAuthInterceptor({ maintenance: options.maintenance }),
    ...(options.interceptors ?? []),
  ];
  const fanout = options.fanout;
  // The unary implementations as registered (before fan-out wraps them), for the gRPC fast path:
  // a call that names nodes goes to connect, which fans it out.
  const unaryRoutes: UnaryRoutes = new Map();
  const routes = (router: ConnectRouter) => {
    if (!fanout) return options.routes(captureUnaryRoutes(router, unaryRoutes));
    const clients = createNodeClients({ ...fanout, maxMessageBytes, signal: shutdown.signal });
    options.routes(
      captureUnaryRoutes(fanoutRouter(router, { clients, timeoutMs: fanout.timeoutMs }), unaryRoutes),
    );
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors,
    readMaxBytes: maxMessageBytes,
    shutdownSignal: shutdown.signal,
    contextValues: (req) => createContextValues().set(identityKey, identity(req)),
  });

  const server = http2.createSecureServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.ca as string | string[] | undefined,
      requestCert: options.tls.requestClientCert,
      // Verified, but answered per call (UNAUTHENTICATED with the reason) rather than by a
      // failed handshake the client cannot explain.
      rejectUnauthorized: false,
      allowHTTP1: true,
    },
    handler,
  );
  // Interceptors beyond auth (metrics, say) run on the connect path only: with any, every call
  // takes it.
  if (!options.interceptors?.length) {
    routeStreams(
      server,
      createApiGrpcFastPath({
        routes: unaryRoutes,
        identity,
        maintenance: options.maintenance,
        maxMessageBytes,
        shutdownSignal: shutdown.signal,
      }),
    );
  }
  const sockets = new Set<Socket>();
  server.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new PlinthError(
          "unavailable",
          `cannot listen on ${options.listen.host}:${options.listen.port}: ${err.code === "EADDRINUSE" ? "the address is in use" : err.message}`,
          { cause: err },
        ),
      );
    };
    server.once("error", onError);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off("error", onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const host = options.listen.host;
  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      shutdown.abort(new PlinthError("unavailable", "the API server is shutting down"));
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, closeGraceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const s of sessions) s.close();
      // HTTP/1.1 connections have no graceful close; their calls were aborted above.
      for (const s of sockets) if ((s as { alpnProtocol?: string | false }).alpnProtocol !== "h2") s.end();
    });
    return closing;
  }
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) await close();

  return {
    host,
    port: address.port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${address.port}`,
    close,
  };
}
