import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
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
  WatchResponseSchema,
} from "../../api/gen/sidero/discovery/server/cluster_pb.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { CallContext, ClusterHandlers } from "./cluster-handlers.ts";

// The Cluster service over plain gRPC (HTTP/2, application/grpc, no compression), answered
// directly on Node's HTTP/2 compatibility API. The connect router serves everything else
// (Connect, gRPC-Web, compressed gRPC) with the same handlers; this path exists because the
// service's hot calls are tiny and connect's general pipeline costs several times the work of
// the call itself. Tests hold both paths to the same behaviour.

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

interface CallState extends CallContext {
  aborted(): boolean;
  abort(reason: unknown): void;
  /** Releases the listener and timer. */
  done(): void;
}

interface Method {
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly stream: boolean;
  readonly call: (req: never, call: CallContext) => unknown;
}

export interface GrpcFastPathOptions {
  /** Largest request message accepted. */
  readonly maxMessageBytes: number;
  /** The call's context besides signal and deadline (the client address). */
  readonly context: (req: AnyRequest) => Pick<CallContext, "clientIp">;
  /** Aborting ends open calls (server shutdown). */
  readonly shutdownSignal: AbortSignal;
}

/** Percent-encoding of grpc-message, as the gRPC HTTP/2 spec defines it. */
function encodeGrpcMessage(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const timeoutUnits: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Milliseconds of a `grpc-timeout` header (`1S`, `250m`, …); undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const m = text?.match(/^(\d{1,8})([HMSmun])$/);
  return m ? Number(m[1]) * timeoutUnits[m[2]!]! : undefined;
}

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

// Every watcher of a cluster is sent the same message object for one change: frame it once.
const framed = new WeakMap<object, Buffer>();

function frameMessage(schema: DescMessage, message: MessageShape<DescMessage>): Buffer {
  let bytes = framed.get(message);
  if (!bytes) {
    bytes = frame(toBinary(schema, message));
    framed.set(message, bytes);
  }
  return bytes;
}

/**
 * Returns a request listener that answers plain gRPC calls of the Cluster service and returns
 * false, touching nothing, for any other request.
 */
export function createGrpcFastPath(
  handlers: ClusterHandlers,
  options: GrpcFastPathOptions,
): (req: AnyRequest, res: AnyResponse) => boolean {
  const prefix = "/sidero.discovery.server.Cluster/";
  const methods = new Map<string, Method>([
    [
      `${prefix}Hello`,
      { input: HelloRequestSchema, output: HelloResponseSchema, stream: false, call: handlers.hello },
    ],
    [
      `${prefix}AffiliateUpdate`,
      {
        input: AffiliateUpdateRequestSchema,
        output: AffiliateUpdateResponseSchema,
        stream: false,
        call: handlers.affiliateUpdate,
      },
    ],
    [
      `${prefix}AffiliateDelete`,
      {
        input: AffiliateDeleteRequestSchema,
        output: AffiliateDeleteResponseSchema,
        stream: false,
        call: handlers.affiliateDelete,
      },
    ],
    [
      `${prefix}List`,
      { input: ListRequestSchema, output: ListResponseSchema, stream: false, call: handlers.list },
    ],
    [
      `${prefix}Watch`,
      { input: WatchRequestSchema, output: WatchResponseSchema, stream: true, call: handlers.watch },
    ],
  ]);

  return (req, res) => {
    if (req.httpVersionMajor !== 2 || req.method !== "POST") return false;
    const contentType = req.headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = req.headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const method = methods.get(req.url ?? "");
    if (!method) return false;
    void serve(method, req as Http2ServerRequest, res as Http2ServerResponse);
    return true;
  };

  function finish(res: Http2ServerResponse, code: number, message: string, body?: Buffer): void {
    if (res.destroyed || res.writableEnded) return;
    if (!res.headersSent) res.writeHead(200, { "content-type": "application/grpc" });
    res.addTrailers(
      message
        ? { "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) }
        : { "grpc-status": String(code) },
    );
    if (body) res.end(body);
    else res.end();
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
  function callState(req: Http2ServerRequest, res: Http2ServerResponse): CallState {
    let controller: AbortController | undefined;
    let onClose: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const ensure = () => {
      if (!controller) {
        const c = new AbortController();
        controller = c;
        onClose = () => c.abort(new PlinthError("canceled", "the client went away"));
        res.once("close", onClose);
      }
      return controller;
    };
    const timeoutMs = parseGrpcTimeout(req.headers["grpc-timeout"]);
    if (timeoutMs !== undefined) {
      const c = ensure();
      timer = setTimeout(
        () => c.abort(new PlinthError("deadline_exceeded", `the call's deadline of ${timeoutMs} ms passed`)),
        timeoutMs,
      );
    }
    return {
      ...options.context(req),
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      get signal() {
        return ensure().signal;
      },
      aborted: () => controller?.signal.aborted ?? false,
      abort: (reason) => ensure().abort(reason),
      done() {
        clearTimeout(timer);
        if (onClose) res.off("close", onClose);
      },
    };
  }

  async function serve(method: Method, req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const call = callState(req, res);
    if (!method.stream) {
      let body: Buffer | undefined;
      let status = { code: 0, message: "" };
      try {
        const input = await readMessage(req, method.input);
        const pending = method.call(input as never, call) as Promise<MessageShape<DescMessage>>;
        const message =
          call.deadline === undefined ? await pending : await withDeadline(pending, call.signal);
        body = frameMessage(method.output, message);
      } catch (err) {
        status = statusOf(err, call);
      } finally {
        call.done();
      }
      finish(res, status.code, status.message, body);
      return;
    }
    const onShutdown = () =>
      call.abort(new PlinthError("unavailable", "the discovery service is shutting down"));
    options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    let status = { code: 0, message: "" };
    try {
      const input = await readMessage(req, method.input);
      res.writeHead(200, { "content-type": "application/grpc" });
      const stream = method.call(input as never, call) as AsyncIterable<MessageShape<DescMessage>>;
      for await (const message of stream) {
        if (!res.write(frameMessage(method.output, message))) await drained(res, call.signal);
      }
    } catch (err) {
      status = statusOf(err, call);
    } finally {
      call.done();
      options.shutdownSignal.removeEventListener("abort", onShutdown);
    }
    finish(res, status.code, status.message);
  }

  function readBody(req: Http2ServerRequest): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxMessageBytes + 5) {
          req.off("data", onData);
          req.resume();
          reject(
            new PlinthError(
              "resource_exhausted",
              `message size is larger than the ${options.maxMessageBytes} bytes accepted`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      };
      req.on("data", onData);
      req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      req.once("aborted", () => reject(new PlinthError("canceled", "the client went away")));
    });
  }

  async function readMessage(
    req: Http2ServerRequest,
    schema: DescMessage,
  ): Promise<MessageShape<DescMessage>> {
    const body = await readBody(req);
    if (body.length < 5) {
      throw new PlinthError("unimplemented", "a call needs exactly one request message, none came");
    }
    if (body[0] !== 0) throw new PlinthError("internal", "compressed message without a grpc-encoding");
    const length = body.readUInt32BE(1);
    if (body.length !== 5 + length) {
      throw new PlinthError(
        "unimplemented",
        "a call needs exactly one request message, the body does not hold one",
      );
    }
    try {
      return fromBinary(schema, body.subarray(5));
    } catch (err) {
      throw new PlinthError("internal", `parse binary: ${(err as Error).message}`, { cause: err });
    }
  }
}

function drained(res: Http2ServerResponse, signal: AbortSignal): Promise<void> {
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
