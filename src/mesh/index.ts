/**
 * The mesh data plane: host-level WireGuard mesh plumbing (keys, ULA addresses, the link, peers,
 * policy routing with nftables marking). No resources, no controllers: the agent's mesh
 * controllers call these functions through the Host interface.
 */
export { meshAddress, meshPrefix } from "./address.ts";
export {
  MESH_FWMARK,
  MESH_LINK_NAME,
  MESH_LISTEN_PORT,
  MESH_MARK_MASK,
  MESH_MTU,
  MESH_NFT_TABLE,
  MESH_PERSISTENT_KEEPALIVE_S,
  MESH_ROUTE_TABLE,
  MESH_RULE_PRIORITY,
  MESH_STEERING_MARK,
} from "./defaults.ts";
export { generateMeshKeyPair, isMeshKey, type MeshKeyPair, meshPresharedKey, meshPublicKey } from "./keys.ts";
export {
  configureMeshLink,
  kernelHasWireGuard,
  type MeshLinkConfig,
  wireguardGoCommand,
} from "./link.ts";
export {
  type MeshPeerConfig,
  type MeshPeerState,
  parseWgDump,
  readMeshPeers,
  setPeerEndpoint,
  syncMeshPeers,
} from "./peers.ts";
export { applyMeshRouting, type MeshRoutingConfig, removeMesh, renderMeshNftables } from "./routing.ts";
