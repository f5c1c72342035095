import type { Host } from "../agent/host/host.ts";

export interface MeshLinkConfig {
  /** Link name, e.g. "plinth-mesh" (at most 15 characters). */
  readonly name: string;
  readonly privateKey: string;
  /** Applied to every peer by syncMeshPeers; kept here so one object describes the node's mesh. */
  readonly presharedKey?: string;
  readonly listenPort: number;
  readonly mtu: number;
  /** This node's mesh address, configured as /128, plus a route for `prefix` on the link. */
  readonly address: string;
  /** The mesh /64. */
  readonly prefix: string;
  /** WireGuard's own encrypted packets carry it (exempt from steering). */
  readonly fwmark: number;
}

/** How to run the userspace implementation when the kernel has none (supervised by the caller). */
export function wireguardGoCommand(name: string): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  return { command: "wireguard-go", args: ["-f", name], env: { WG_PROCESS_FOREGROUND: "1" } };
}

export async function kernelHasWireGuard(_host: Host): Promise<boolean> {
  throw new Error("kernelHasWireGuard: not implemented yet");
}

export async function configureMeshLink(
  _host: Host,
  _cfg: MeshLinkConfig,
  _opts: { signal?: AbortSignal } = {},
): Promise<void> {
  throw new Error("configureMeshLink: not implemented yet");
}
