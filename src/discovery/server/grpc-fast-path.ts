import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
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

  async function serve(method: Method, req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const abort = new AbortController();
    const timeoutMs = parseGrpcTimeout(req.headers["grpc-timeout"]);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () =>
          abort.abort(new PlinthError("deadline_exceeded", `the call's deadline of ${timeoutMs} ms passed`)),
        timeoutMs,
      );
    }
    const onShutdown = () =>
      abort.abort(new PlinthError("unavailable", "the discovery service is shutting down"));
    options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    const onClose = () => abort.abort(new PlinthError("canceled", "the client went away"));
    res.once("close", onClose);
    res.writeHead(200, { "content-type": "application/grpc" });
    let status: { code: Code | 0; message: string } = { code: 0, message: "" };
    try {
      const input = await readMessage(req, method.input);
      const call: CallContext = { ...options.context(req), signal: abort.signal, deadline };
      if (method.stream) {
        const stream = method.call(input as never, call) as AsyncIterable<MessageShape<DescMessage>>;
        for await (const message of stream) {
          if (!res.write(frameMessage(method.output, message))) await drained(res, abort.signal);
        }
      } else {
        const message = (await withDeadline(
          method.call(input as never, call) as Promise<never>,
          abort.signal,
        )) as MessageShape<DescMessage>;
        res.write(frameMessage(method.output, message));
      }
    } catch (err) {
      const reason = abort.signal.aborted ? abort.signal.reason : err;
      const connectError = toConnectError(reason);
      status = { code: connectError.code, message: connectError.rawMessage };
    } finally {
      clearTimeout(timer);
      options.shutdownSignal.removeEventListener("abort", onShutdown);
      res.off("close", onClose);
    }
    if (res.destroyed || res.writableEnded) return;
    const trailers: Record<string, string> = { "grpc-status": String(status.code) };
    if (status.message) trailers["grpc-message"] = encodeGrpcMessage(status.message);
    res.addTrailers(trailers);
    res.end();
  }

  async function readMessage(req: AnyRequest, schema: DescMessage): Promise<MessageShape<DescMessage>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > options.maxMessageBytes + 5) {
        throw new PlinthError(
          "resource_exhausted",
          `message size is larger than the ${options.maxMessageBytes} bytes accepted`,
        );
      }
      chunks.push(chunk);
    }
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (body.length < 5)
      throw new PlinthError("unimplemented", "a call needs exactly one request message, none came");
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
