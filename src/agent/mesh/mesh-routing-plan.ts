import {
  MESH_FWMARK,
  MESH_LINK_NAME,
  MESH_ROUTE_TABLE,
  MESH_RULE_PRIORITY,
  type MeshRoutingConfig,
} from "../../mesh/index.ts";
import type { PeerState } from "./endpoint-prober.ts";

/**
 * What the routing steers into the mesh: the mesh /64 and every peer's allowed IPs. With
 * `allowDownPeerBypass`, the allowed IPs of peers not up (down, or never up yet) are bypassed:
 * their traffic keeps its normal route instead of being dropped by WireGuard.
 */
export function meshRoutingPlan(
  mesh: { readonly prefix: string; readonly mtu: number; readonly allowDownPeerBypass: boolean },
  peers: readonly { readonly allowedIps: readonly string[]; readonly state: PeerState }[],
): MeshRoutingConfig {
  return {
    linkName: MESH_LINK_NAME,
    fwmark: MESH_FWMARK,
    table: MESH_ROUTE_TABLE,
    rulePriority: MESH_RULE_PRIORITY,
    destinations: [mesh.prefix, ...peers.flatMap((p) => p.allowedIps)],
    bypass: mesh.allowDownPeerBypass
      ? peers.filter((p) => p.state !== "up").flatMap((p) => p.allowedIps)
      : [],
    mtu: mesh.mtu,
  };
}
