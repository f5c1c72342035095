import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, type DescMessage, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { authorize } from "./auth/authorize.ts";
import type { Identity } from "./auth/identity.ts";
import type { PeerIdentityResolver } from "./auth/peer-identity.ts";
import { toConnectError } from "./error-mapping.ts";
import { nodesHeader } from "./fanout/node-address.ts";
import { FastPathContext } from "./fast-path-context.ts";
import { errorTrailers, finishCall, grpcOkTrailers } from "./grpc-wire/finish-call.ts";
import { frame, parseGrpcTimeout } from "./grpc-wire/grpc-message.ts";
import { readUnaryMessage } from "./grpc-wire/read-unary-message.ts";
import type { StreamListener } from "./grpc-wire/route-streams.ts";
import type { UnaryRoute, UnaryRoutes } from "./unary-route-capture.ts";

// Unary calls of the machine API over plain gRPC (HTTP/2, application/grpc, no compression),
// answered on Node's HTTP/2 streams directly. Connect serves everything else on the same port
// (streams, gRPC-Web, Connect, compressed gRPC, calls fanned out to other nodes) with the same
// services. This path exists because a unary call's own work is small and connect's general
// pipeline (async iterables per call, Headers objects, a linked abort signal ending in an
// exception) costs several times as much. It runs the same check (auth/authorize.ts), calls the
// same implementations and translates errors the same way (error-mapping.ts); the access test
// runs every RPC and role over it, and server tests hold both paths to the same answers.

export interface ApiFastPathOptions {
  /** The unary implementations, by request path. */
  readonly routes: UnaryRoutes;
  readonly identity: PeerIdentityResolver;
  readonly maintenance?: boolean;
  /** Largest request message accepted. */
  readonly maxMessageBytes: number;
  /** Aborts open calls' signals (server shutdown). */
  readonly shutdownSignal: AbortSignal;
}

function record(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

const ignore = () => {};

/**
 * Returns an HTTP/2 stream listener that answers plain gRPC unary calls of the registered
 * routes and returns false, touching nothing, for any other stream: connect answers those,
 * including every call whose headers ask for something this path does not do (compression, a
 * malformed deadline, fan-out to `nodes`).
 */
export function createApiGrpcFastPath(options: ApiFastPathOptions): StreamListener {
  return (stream, headers) => {
    if (headers[":method"] !== "POST") return false;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    if (headers[nodesHeader] !== undefined) return false;
    const route = options.routes.get(headers[":path"] ?? "");
    if (!route) return false;
    const timeoutHeader = headers["grpc-timeout"];
    const timeoutMs = parseGrpcTimeout(timeoutHeader);
    if (timeoutHeader !== undefined && timeoutMs === undefined) return false;
    void serve(route, stream, headers, timeoutMs);
    return true;
  };

  async function serve(
    route: UnaryRoute,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    timeoutMs: number | undefined,
  ): Promise<void> {
    stream.on("error", ignore); // a reset by the client; the call ends through 'close'
    let caller: Identity | undefined;
    const identity = () => {
      caller ??= options.identity.ofStream(stream.session!, headers);
      return caller;
    };
    const ctx = new FastPathContext(
      route.method,
      stream,
      headers,
      identity,
      timeoutMs,
      options.shutdownSignal,
    );
    let body: Buffer | undefined;
    let trailers: Record<string, string>;
    try {
      // Decoded before the check, as connect does: a malformed or oversized request gets the
      // same answer on both paths whoever sends it.
      const input = await readUnaryMessage(stream, route.method.input, options);
      authorize(route.method, identity, options);
      const output = (await route.impl(input as never, ctx)) as MessageShape<DescMessage>;
      const message = isMessage(output, route.method.output) ? output : create(route.method.output, output);
      body = frame(toBinary(route.method.output, message));
      trailers = grpcOkTrailers as Record<string, string>;
    } catch (err) {
      trailers = errorTrailers(toConnectError(err));
    } finally {
      ctx.done();
    }
    const { header, trailer } = ctx.metadata();
    finishCall(
      stream,
      trailer ? { ...record(trailer), ...trailers } : trailers,
      body,
      header && record(header),
    );
  }
}
