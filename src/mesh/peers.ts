import type { Host } from "../agent/host/host.ts";

export interface MeshPeerConfig {
  readonly publicKey: string;
  /** "ip:port" or "[v6]:port". */
  readonly endpoint?: string;
  /** CIDRs. */
  readonly allowedIps: readonly string[];
  /** Default 25. */
  readonly persistentKeepaliveS?: number;
}

export interface MeshPeerState {
  readonly publicKey: string;
  readonly endpoint?: string;
  /** Epoch ms, 0 = never. */
  readonly latestHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly allowedIps: readonly string[];
}

export function parseWgDump(_dump: string): MeshPeerState[] {
  throw new Error("parseWgDump: not implemented yet");
}

export async function syncMeshPeers(
  _host: Host,
  _name: string,
  _peers: readonly MeshPeerConfig[],
  _presharedKey?: string,
): Promise<void> {
  throw new Error("syncMeshPeers: not implemented yet");
}

export async function setPeerEndpoint(
  _host: Host,
  _name: string,
  _publicKey: string,
  _endpoint: string,
): Promise<void> {
  throw new Error("setPeerEndpoint: not implemented yet");
}

export async function readMeshPeers(_host: Host, _name: string): Promise<MeshPeerState[]> {
  throw new Error("readMeshPeers: not implemented yet");
}
