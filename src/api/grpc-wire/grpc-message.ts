// The small pieces of the gRPC HTTP/2 wire format that the fast paths (the machine API's and the
// discovery service's) write and read themselves: the length-prefixed envelope, grpc-timeout,
// and the percent-encoded grpc-message.

/** Percent-encoding of grpc-message, as the gRPC HTTP/2 spec defines it. */
export function encodeGrpcMessage(text: string): string {
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

/** One uncompressed message in its 5-byte envelope (flags, big-endian length). */
export function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}
