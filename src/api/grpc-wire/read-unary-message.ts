import type { ServerHttp2Stream } from "node:http2";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

// Reads the one request message of a unary (or server-streaming) gRPC call from its HTTP/2
// stream. The errors are the ones connect's gRPC handler answers for the same bodies (codes and
// wording), so a call gets the same answer whichever path serves it.

/** Largest request message accepted (its envelope's length), e.g. 4 MiB. */
export interface ReadUnaryOptions {
  readonly maxMessageBytes: number;
  /** Named in the errors about the number of messages, as connect names it; default "unary". */
  readonly methodKind?: "unary" | "server-streaming";
}

function tooLarge(length: number, max: number): ConnectError {
  return new ConnectError(
    `message size ${length} is larger than configured readMaxBytes ${max}`,
    Code.ResourceExhausted,
  );
}

/** The envelope's payload; stops reading (and drains) as soon as the body cannot be accepted. */
function readEnvelope(stream: ServerHttp2Stream, max: number, kind: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let expected = -1;
    // Every listener goes as soon as the outcome is known: 'close' follows every call, and
    // building an error there for nothing would cost a stack trace per call.
    const settle = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("aborted", gone);
      stream.off("close", gone);
    };
    const fail = (err: ConnectError) => {
      settle();
      chunks = [];
      stream.resume();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (expected < 0 && size >= 5) {
        const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        chunks = [head];
        expected = head.readUInt32BE(1);
        if (expected > max) return fail(tooLarge(expected, max));
      }
      if (expected >= 0 && size > 5 + expected) {
        fail(
          new ConnectError(
            `protocol error: received extra input message for ${kind} method`,
            Code.Unimplemented,
          ),
        );
      }
    };
    const onEnd = () => {
      settle();
      if (size === 0) {
        reject(
          new ConnectError(`protocol error: missing input message for ${kind} method`, Code.Unimplemented),
        );
      } else if (expected < 0 || size !== 5 + expected) {
        reject(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      }
    };
    const gone = () => {
      settle();
      reject(new ConnectError("the client went away", Code.Canceled));
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("aborted", gone);
    stream.on("close", gone);
  });
}

/** The call's request message, decoded with the method's input schema. */
export async function readUnaryMessage<T extends DescMessage>(
  stream: ServerHttp2Stream,
  schema: T,
  options: ReadUnaryOptions,
): Promise<MessageShape<T>> {
  const body = await readEnvelope(stream, options.maxMessageBytes, options.methodKind ?? "unary");
  if (body[0]! & 0x01) {
    // Compressed calls (a grpc-encoding header) are left to connect; this one claims compression
    // without saying which.
    throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  }
  try {
    return fromBinary(schema, body.subarray(5));
  } catch (err) {
    throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.Internal);
  }
}
