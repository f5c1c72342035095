import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { toConnectError } from "../../api/error-mapping.ts";
import {
  AffiliateDeleteRequestSchema,
  AffiliateDeleteResponseSchema,
  AffiliateUpdateRequestSchema,
  AffiliateUpdateResponseSchema,
  HelloRequestSchema,
  HelloResponseSchema,
  ListRequestSchema,
  ListResponseSchema,
  WatchRequestSchema,
  type WatchResponse,
  WatchResponseSchema,
} from "../../api/gen/sidero/discovery/server/cluster_pb.ts";
import { finishCall, grpcResponseHeaders, statusTrailers } from "../../api/grpc-wire/finish-call.ts";
import { frame, parseGrpcTimeout } from "../../api/grpc-wire/grpc-message.ts";
import { readUnaryMessage } from "../../api/grpc-wire/read-unary-message.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { CallContext, ClusterHandlers } from "./cluster-handlers.ts";
import { encodeWatchResponse } from "./watch-response-codec.ts";

// The Cluster service over plain gRPC (HTTP/2, application/grpc, no compression), answered on
// Node's HTTP/2 streams directly. The connect router serves everything else (Connect, gRPC-Web,
// compressed gRPC) with the same handlers; this path exists because the service's hot calls are
// tiny and connect's general pipeline, and even Node's HTTP/1-style compatibility objects, cost
// several times the work of the call itself. Tests hold both paths to the same behaviour.

interface Method {
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly stream: boolean;
  readonly call: (req: never, call: CallContext) => unknown;
}

interface CallState extends CallContext {
  aborted(): boolean;
  abort(reason: unknown): void;
  /** Releases the listener and timer. */
  done(): void;
}

export interface GrpcFastPathOptions {
  /** Largest request message accepted. */
  readonly maxMessageBytes: number;
  /** The call's client address, from its headers and connection. */
  readonly context: (headers: IncomingHttpHeaders, session: Http2Session) => Pick<CallContext, "clientIp">;
  /** Aborting ends open calls (server shutdown). */
  readonly shutdownSignal: AbortSignal;
}

// Kept here too for the code that imports it from this module.
export { parseGrpcTimeout };

// Every watcher of a cluster is sent the same message object for one change: frame it once.
const framed = new WeakMap<object, Buffer>();

function frameMessage(schema: DescMessage, message: MessageShape<DescMessage>): Buffer {
  let bytes = framed.get(message);
  if (!bytes) {
    if (schema === WatchResponseSchema) {
      bytes = encodeWatchResponse(message as WatchResponse, 5);
      bytes.writeUInt32BE(bytes.length - 5, 1);
    } else {
      bytes = frame(toBinary(schema, message));
    }
    framed.set(message, bytes);
  }
  return bytes;
}

/**
 * Returns an HTTP/2 stream listener that answers plain gRPC calls of the Cluster service and
 * returns false, touching nothing, for any other stream.
 */
export function createGrpcFastPath(
  handlers: ClusterHandlers,
  options: GrpcFastPathOptions,
): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean {
  const prefix = "/sidero.discovery.server.Cluster/";
  const method = (input: DescMessage, output: DescMessage, call: Method["call"], stream = false): Method => ({
    input,
    output,
    stream,
    call,
  });
  const methods = new Map<string, Method>([
    [`${prefix}Hello`, method(HelloRequestSchema, HelloResponseSchema, handlers.hello)],
    [
      `${prefix}AffiliateUpdate`,
      method(AffiliateUpdateRequestSchema, AffiliateUpdateResponseSchema, handlers.affiliateUpdate),
    ],
    [
      `${prefix}AffiliateDelete`,
      method(AffiliateDeleteRequestSchema, AffiliateDeleteResponseSchema, handlers.affiliateDelete),
    ],
    [`${prefix}List`, method(ListRequestSchema, ListResponseSchema, handlers.list)],
    [`${prefix}Watch`, method(WatchRequestSchema, WatchResponseSchema, handlers.watch, true)],
  ]);

  return (stream, headers) => {
    if (headers[":method"] !== "POST") return false;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const m = methods.get(headers[":path"] ?? "");
    if (!m) return false;
    void serve(m, stream, headers);
    return true;
  };

  /** Ends the call: trailers after what was sent, or a trailers-only answer when nothing was. */
  function finish(stream: ServerHttp2Stream, code: number, message: string, body?: Buffer): void {
    finishCall(stream, statusTrailers(code, message), body);
  }

  function statusOf(err: unknown, call: CallState): { code: number; message: string } {
    const connectError = toConnectError(call.aborted() ? call.signal.reason : err);
    return { code: connectError.code, message: connectError.rawMessage };
  }

  /**
   * The call's context. Its signal (aborted when the client goes away or the deadline passes)
   * is made only when something asks for it: most unary calls never do, and skipping it spares
   * an AbortController and a listener per call on the hottest path.
   */
  function callState(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): CallState {
    let controller: AbortController | undefined;
    let onClose: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const ensure = () => {
      if (!controller) {
        const c = new AbortController();
        controller = c;
        onClose = () => c.abort(new PlinthError("canceled", "the client went away"));
        stream.once("close", onClose);
      }
      return controller;
    };
    const timeoutMs = parseGrpcTimeout(headers["grpc-timeout"]);
    if (timeoutMs !== undefined) {
      const c = ensure();
      timer = setTimeout(
        () => c.abort(new PlinthError("deadline_exceeded", `the call's deadline of ${timeoutMs} ms passed`)),
        timeoutMs,
      );
    }
    return {
      ...options.context(headers, stream.session!),
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      get signal() {
        return ensure().signal;
      },
      aborted: () => controller?.signal.aborted ?? false,
      abort: (reason) => ensure().abort(reason),
      done() {
        clearTimeout(timer);
        if (onClose) stream.off("close", onClose);
      },
    };
  }

  async function serve(
    method: Method,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
  ): Promise<void> {
    stream.on("error", () => {}); // a reset by the client; the call ends through 'close'
    const call = callState(stream, headers);
    if (!method.stream) {
      let body: Buffer | undefined;
      let status = { code: 0, message: "" };
      try {
        const input = await readMessage(stream, method);
        const pending = method.call(input as never, call) as Promise<MessageShape<DescMessage>>;
        const message =
          call.deadline === undefined ? await pending : await withDeadline(pending, call.signal);
        body = frameMessage(method.output, message);
      } catch (err) {
        status = statusOf(err, call);
      } finally {
        call.done();
      }
      finish(stream, status.code, status.message, body);
      return;
    }
    const onShutdown = () =>
      call.abort(new PlinthError("unavailable", "the discovery service is shutting down"));
    options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    let status = { code: 0, message: "" };
    try {
      const input = await readMessage(stream, method);
      const messages = method.call(input as never, call) as AsyncIterable<MessageShape<DescMessage>>;
      for await (const message of messages) {
        if (!stream.headersSent) {
          stream.respond(grpcResponseHeaders, { waitForTrailers: true });
        }
        if (!stream.write(frameMessage(method.output, message))) await drained(stream, call.signal);
      }
    } catch (err) {
      status = statusOf(err, call);
    } finally {
      call.done();
      options.shutdownSignal.removeEventListener("abort", onShutdown);
    }
    finish(stream, status.code, status.message);
  }

  function readMessage(stream: ServerHttp2Stream, method: Method): Promise<MessageShape<DescMessage>> {
    return readUnaryMessage(stream, method.input, {
      maxMessageBytes: options.maxMessageBytes,
      methodKind: method.stream ? "server-streaming" : "unary",
    });
  }
}

function drained(res: ServerHttp2Stream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

function withDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
