/** Defaults of the mesh data plane; callers may pass others. */
export const MESH_LINK_NAME = "plinth-mesh";
export const MESH_LISTEN_PORT = 51820;
export const MESH_MTU = 1420;
/** Mark WireGuard puts on its own encrypted UDP packets (exempt from steering). */
export const MESH_FWMARK = 0x20;
/** Mark nftables puts on packets to steer into the mesh; `ip rule` sends them to MESH_ROUTE_TABLE. */
export const MESH_STEERING_MARK = 0x40;
/** The bits of the packet mark the mesh owns; other bits are left to other software. */
export const MESH_MARK_MASK = 0x60;
export const MESH_ROUTE_TABLE = 180;
export const MESH_RULE_PRIORITY = 1800;
export const MESH_PERSISTENT_KEEPALIVE_S = 25;
/** The nftables table the mesh owns (family inet); no other table is ever touched. */
export const MESH_NFT_TABLE = "plinth_mesh";
