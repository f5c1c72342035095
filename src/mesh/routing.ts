import type { Host } from "../agent/host/host.ts";

export interface MeshRoutingConfig {
  readonly linkName: string;
  /** WireGuard's own mark (the link's fwmark): packets carrying it are never steered. */
  readonly fwmark: number;
  /** Dedicated routing table, e.g. 180. */
  readonly table: number;
  readonly rulePriority: number;
  /** Prefixes steered into the mesh. */
  readonly destinations: readonly string[];
  /** Destinations not steered (down peers with allowDownPeerBypass). */
  readonly bypass: readonly string[];
  /** MSS clamp. */
  readonly mtu: number;
}

export function renderMeshNftables(_cfg: MeshRoutingConfig): string {
  throw new Error("renderMeshNftables: not implemented yet");
}

export async function applyMeshRouting(_host: Host, _cfg: MeshRoutingConfig): Promise<void> {
  throw new Error("applyMeshRouting: not implemented yet");
}

export async function removeMesh(
  _host: Host,
  _names: { linkName: string; table: number; fwmark: number },
): Promise<void> {
  throw new Error("removeMesh: not implemented yet");
}
