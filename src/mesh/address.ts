import { createHash } from "node:crypto";

/** Purpose byte of the mesh /64 inside the cluster's ULA space (room for other purposes later). */
export const MESH_ULA_PURPOSE = 0x01;

/**
 * The mesh /64 of a cluster: `fd` + 5 bytes of sha256(clusterId) + the purpose byte + a zero pad
 * byte. Stable for the cluster's lifetime and (with 40 hashed bits) unlikely to clash with another
 * cluster's ULA.
 */
export function meshPrefix(clusterId: string): string {
  return `${formatIpv6(prefixBytes(clusterId))}/64`;
}

/** This node's mesh address (no prefix length): the cluster's /64 + 8 bytes of sha256(nodeId). */
export function meshAddress(clusterId: string, nodeId: string): string {
  requireId(nodeId, "nodeId");
  const host = sha256(nodeId).subarray(0, 8);
  // The all-zero host part is the subnet-router anycast address; never hand it to a node.
  if (host.every((b) => b === 0)) host[7] = 1;
  return formatIpv6(Buffer.concat([prefixBytes(clusterId).subarray(0, 8), host]));
}

function prefixBytes(clusterId: string): Buffer {
  requireId(clusterId, "clusterId");
  const bytes = Buffer.alloc(16);
  bytes[0] = 0xfd;
  sha256(clusterId).copy(bytes, 1, 0, 5);
  bytes[6] = MESH_ULA_PURPOSE;
  return bytes;
}

function requireId(value: unknown, field: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Cannot derive the mesh address: '${field}' must be a non-empty string`);
  }
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** RFC 5952 text (lowercase, longest zero run compressed), via the WHATWG URL parser. */
export function formatIpv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}
