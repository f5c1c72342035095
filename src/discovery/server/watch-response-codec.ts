import type { WatchResponse } from "../../api/gen/sidero/discovery/server/cluster_pb.ts";

// WatchResponse in protobuf binary, written directly: one goes out per change and per watcher,
// the service's hottest encoding, and the generic reflective encoder costs several times this.
// The output is byte for byte what `toBinary(WatchResponseSchema, m)` gives (a test checks it):
// fields in number order, proto3 defaults omitted, every repeated element written.

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/**
 * Encodes a WatchResponse (without unknown fields, which the server never sets); with `reserve`,
 * that many zero bytes come first (room for the gRPC frame header, so nothing is copied later).
 */
export function encodeWatchResponse(message: WatchResponse, reserve = 0): Buffer {
  const ids = message.affiliates.map((a) => Buffer.byteLength(a.id, "utf8"));
  const sizes = message.affiliates.map((a, i) => {
    let size = 0;
    const id = ids[i]!;
    if (id > 0) size += 1 + varintSize(id) + id;
    if (a.data.length > 0) size += 1 + varintSize(a.data.length) + a.data.length;
    for (const e of a.endpoints) size += 1 + varintSize(e.length) + e.length;
    return size;
  });
  let total = message.deleted ? 2 : 0;
  for (const size of sizes) total += 1 + varintSize(size) + size;
  // From Node's buffer pool (small messages are the rule); every byte is written below.
  const out = Buffer.allocUnsafe(reserve + total);
  out.fill(0, 0, reserve);
  let at = reserve;
  message.affiliates.forEach((a, i) => {
    out[at++] = 0x0a; // affiliates = 1, length-delimited
    at = writeVarint(out, at, sizes[i]!);
    const id = ids[i]!;
    if (id > 0) {
      out[at++] = 0x0a; // id = 1
      at = writeVarint(out, at, id);
      at += out.write(a.id, at, "utf8");
    }
    if (a.data.length > 0) {
      out[at++] = 0x12; // data = 2
      at = writeVarint(out, at, a.data.length);
      out.set(a.data, at);
      at += a.data.length;
    }
    for (const e of a.endpoints) {
      out[at++] = 0x1a; // endpoints = 3
      at = writeVarint(out, at, e.length);
      out.set(e, at);
      at += e.length;
    }
  });
  if (message.deleted) {
    out[at++] = 0x10; // deleted = 2, varint
    out[at++] = 1;
  }
  return out;
}
