// A minimal gRPC client over node:http2, written once and used against both servers of the API
// comparison: one mTLS HTTP/2 connection, N callers each making one unary call after another,
// every answer checked (grpc-status 0 and a message). It does little work per call, so the
// servers, not the client, set the pace on a machine they share.
import http2 from "node:http2";
import { percentile } from "../harness.ts";

export interface UnaryLoadOptions {
  /** "https://HOST:PORT". */
  readonly url: string;
  /** "/package.Service/Method". */
  readonly path: string;
  /** The request message, protobuf-encoded. */
  readonly request: Uint8Array;
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
  readonly callers: number;
  readonly durationMs: number;
  /** Load before the measurement (connection set-up, JIT), not counted. */
  readonly warmupMs: number;
}

export interface UnaryLoadResult {
  readonly callsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The last answer's message, protobuf-encoded (without the gRPC frame header). */
  readonly reply: Uint8Array;
}

/** The request framed for gRPC: 1 byte not compressed, 4 bytes length, the message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function call(session: http2.ClientHttp2Session, path: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message: string | undefined;
    const headers = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    stream.on("response", headers);
    stream.on("trailers", headers);
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      if (status !== "0") {
        reject(new Error(`${path} answered grpc-status ${status ?? "(none)"}: ${message ?? ""}`));
        return;
      }
      const data = Buffer.concat(chunks);
      if (data.length < 5 || data.length !== 5 + data.readUInt32BE(1)) {
        reject(new Error(`${path} answered a malformed gRPC message of ${data.length} bytes`));
        return;
      }
      resolve(data.subarray(5));
    });
    stream.end(body);
  });
}

/** Runs the load and returns the rate and latencies of the calls made after the warm-up. */
export async function unaryLoad(options: UnaryLoadOptions): Promise<UnaryLoadResult> {
  const session = http2.connect(options.url, { ...options.tls, ALPNProtocols: ["h2"] });
  const failed = new Promise<never>((_, reject) =>
    session.once("error", (err) => reject(new Error(`connection to ${options.url} failed: ${err.message}`))),
  );
  failed.catch(() => {});
  try {
    const body = frame(options.request);
    const start = performance.now();
    const measureFrom = start + options.warmupMs;
    const stopAt = measureFrom + options.durationMs;
    const latencies: number[] = [];
    let reply: Uint8Array = new Uint8Array();
    let firstCounted = Number.POSITIVE_INFINITY;
    let lastCounted = 0;
    const caller = async () => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= stopAt) return;
        reply = await call(session, options.path, body);
        const t1 = performance.now();
        if (t0 < measureFrom) continue;
        latencies.push(t1 - t0);
        firstCounted = Math.min(firstCounted, t0);
        lastCounted = Math.max(lastCounted, t1);
      }
    };
    await Promise.race([Promise.all(Array.from({ length: options.callers }, caller)), failed]);
    if (latencies.length === 0) throw new Error(`no call to ${options.url} completed in the measured time`);
    return {
      callsPerSec: latencies.length / ((lastCounted - firstCounted) / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      reply,
    };
  } finally {
    session.destroy();
  }
}
