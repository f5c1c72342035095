import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";
import { routeStreams, type StreamListener } from "../../api/grpc-wire/route-streams.ts";
import { PlinthError } from "../../errors/plinth-error.ts";

export type { StreamListener };

export type RequestListener = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface HttpListenerOptions {
  readonly host: string;
  readonly port: number;
  /** Sees every HTTP/2 stream first, before Node builds request/response objects for it. */
  readonly streams?: StreamListener;
  /** PEM; without it the port serves plaintext (h2c for gRPC, HTTP/1.1 for browsers). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface HttpListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting, lets open HTTP/2 sessions finish their calls for `graceMs`, then cuts them. */
  close(graceMs: number): Promise<void>;
}

const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n");

/**
 * One port for HTTP/2 and HTTP/1.1. With TLS, ALPN chooses. Without, the first bytes do: gRPC
 * clients open plaintext connections with the HTTP/2 preface (prior knowledge), browsers and curl
 * speak HTTP/1.1, and each connection is handed to the matching server.
 */
export async function listenHttp(
  handler: RequestListener,
  options: HttpListenerOptions,
): Promise<HttpListener> {
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  let server: net.Server;
  let h1: http.Server | undefined;
  if (options.tls) {
    const secure = http2.createSecureServer({ ...options.tls, allowHTTP1: true }, handler);
    routeStreams(secure, options.streams);
    secure.on("secureConnection", track);
    secure.on("session", (s: http2.ServerHttp2Session) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    server = secure;
  } else {
    const h2 = http2.createServer({}, handler);
    routeStreams(h2, options.streams);
    h2.on("session", (s: http2.ServerHttp2Session) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    const plain = http.createServer(handler as http.RequestListener);
    h1 = plain;
    server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      track(socket);
      let head = Buffer.alloc(0);
      const onError = () => socket.destroy();
      const onReadable = () => {
        for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read() as Buffer | null) {
          head = Buffer.concat([head, chunk]);
        }
        const n = Math.min(head.length, h2Preface.length);
        const isH2 = head.subarray(0, n).equals(h2Preface.subarray(0, n));
        if (isH2 && head.length < h2Preface.length) return; // wait for the whole preface line
        socket.off("readable", onReadable);
        socket.off("error", onError);
        socket.unshift(head);
        (isH2 ? h2 : plain).emit("connection", socket);
        if (!isH2) socket.resume();
      };
      socket.on("error", onError);
      socket.on("readable", onReadable);
    });
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new PlinthError(
          "unavailable",
          `cannot listen on ${options.host}:${options.port}: ${err.code === "EADDRINUSE" ? "the address is in use" : err.message}`,
          { cause: err },
        ),
      );
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port: address.port,
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const s of sessions) s.close();
        h1?.closeAllConnections();
        for (const s of sockets)
          if ((s as { alpnProtocol?: string | false }).alpnProtocol === "http/1.1") s.end();
      });
      return closing;
    },
  };
}
