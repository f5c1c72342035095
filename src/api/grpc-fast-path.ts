import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, type DescMessage, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { authorize } from "./auth/authorize.ts";
import type { Identity } from "./auth/identity.ts";
import { identityKey } from "./auth/identity.ts";
import type { PeerIdentityResolver } from "./auth/peer-identity.ts";
import { toConnectError } from "./error-mapping.ts";
import { nodesHeader } from "./fanout/node-address.ts";
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

/** What connect's deadline signal is aborted with: the same reason on both paths. */
function deadlineError(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}

/**
 * The HandlerContext the implementations get. The signal, the header objects and the context
 * values are made only when something asks for them: most unary calls never do.
 */
function handlerContext(
  route: UnaryRoute,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  identity: () => Identity,
  timeoutMs: number | undefined,
  shutdownSignal: AbortSignal,
): HandlerContext & { done(): void; metadata(): { header?: Headers; trailer?: Headers } } {
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  let values: HandlerContext["values"] | undefined;
  const onClose = () => controller?.abort(new ConnectError("the client went away", Code.Canceled));
  const onShutdown = () => controller?.abort(shutdownSignal.reason);
  const ensure = () => {
    if (!controller) {
      controller = new AbortController();
      if (shutdownSignal.aborted) controller.abort(shutdownSignal.reason);
      shutdownSignal.addEventListener("abort", onShutdown, { once: true });
      stream.once("close", onClose);
    }
    return controller;
  };
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (timeoutMs !== undefined) {
    const c = ensure();
    timer = setTimeout(() => c.abort(deadlineError()), timeoutMs);
  }
  return {
    method: route.method,
    service: route.method.parent,
    requestMethod: "POST",
    protocolName: "grpc",
    url: `https://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
    get signal() {
      return ensure().signal;
    },
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    get requestHeader() {
      if (!requestHeader) {
        requestHeader = new Headers();
        for (const [k, v] of Object.entries(headers)) {
          if (k.startsWith(":") || v === undefined) continue;
          for (const one of [v].flat()) requestHeader.append(k, String(one));
        }
      }
      return requestHeader;
    },
    get responseHeader() {
      responseHeader ??= new Headers();
      return responseHeader;
    },
    get responseTrailer() {
      responseTrailer ??= new Headers();
      return responseTrailer;
    },
    get values() {
      values ??= createContextValues().set(identityKey, identity());
      return values;
    },
    /** Headers and trailers the implementation set, if it touched them. */
    metadata: () => ({ header: responseHeader, trailer: responseTrailer }),
    done() {
      clearTimeout(timer);
      if (!controller) return;
      stream.off("close", onClose);
      shutdownSignal.removeEventListener("abort", onShutdown);
      // As connect does: the call is over, whatever still listens stops.
      controller.abort(new ConnectError("the call is over", Code.Canceled));
    },
  };
}

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
    stream.on("error", () => {}); // a reset by the client; the call ends through 'close'
    let caller: Identity | undefined;
    const identity = () => {
      caller ??= options.identity.ofStream(stream.session!, headers);
      return caller;
    };
    const ctx = handlerContext(route, stream, headers, identity, timeoutMs, options.shutdownSignal);
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
