import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const meshIdentityId = "local";

/** This node's mesh identity: its WireGuard public key and its address in the mesh. */
export const MeshIdentity = defineResource({
  type: "MeshIdentity",
  namespace: "mesh",
  aliases: ["meshidentities"],
  printColumns: [
    { name: "Public-Key", path: "publicKey" },
    { name: "Address", path: "address" },
  ],
  schema: z.strictObject({
    publicKey: z.string(),
    /** The stable IPv6 ULA of this node in the mesh, without prefix length. */
    address: z.string(),
    /** The cluster's mesh /64. */
    prefix: z.string(),
  }),
});

export const meshPrivateKeyId = "local";

/**
 * This node's WireGuard private key: generated once and kept in the agent's durable state until
 * the machine is reset. Private: the API serves it to no role, so it never leaves the machine.
 */
export const MeshPrivateKey = defineResource({
  type: "MeshPrivateKey",
  namespace: "secrets",
  sensitivity: "private",
  schema: z.strictObject({ privateKey: z.string() }),
});

export const meshSpecId = "mesh";

/** What the `Mesh` and `ClusterConfig` documents ask of this node's mesh. Holds the pre-shared key. */
export const MeshSpec = defineResource({
  type: "MeshSpec",
  namespace: "mesh",
  aliases: ["meshspecs"],
  sensitivity: "sensitive",
  printColumns: [
    { name: "Enabled", path: "enabled" },
    { name: "Port", path: "port" },
    { name: "MTU", path: "mtu" },
  ],
  schema: z.strictObject({
    enabled: z.boolean(),
    clusterId: z.string(),
    mtu: z.number().int(),
    port: z.number().int(),
    allowDownPeerBypass: z.boolean(),
    advertiseNetworks: z.array(z.string()),
    /** Which local addresses to announce as endpoints: prefixes, `!` excludes; empty: all. */
    endpointFilters: z.array(z.string()),
    extraEndpoints: z.array(z.string()),
    /** Derived from the cluster secret: a node with another secret cannot complete a handshake. */
    presharedKey: z.string(),
  }),
});

/** A prefix two peers claim; the node with the lowest id keeps it. */
const overlap = z.strictObject({ prefix: z.string(), keptBy: z.string() });

/** One peer of the mesh, built from its `Affiliate`: what WireGuard is told about it. */
export const MeshPeerSpec = defineResource({
  type: "MeshPeerSpec",
  namespace: "mesh",
  aliases: ["meshpeerspecs"],
  printColumns: [
    { name: "Hostname", path: "hostname" },
    { name: "Address", path: "address" },
    { name: "Allowed-IPs", path: "allowedIps" },
  ],
  schema: z.strictObject({
    nodeId: z.string(),
    hostname: z.string(),
    publicKey: z.string(),
    /** The peer's mesh address. */
    address: z.string(),
    /** CIDRs routed to this peer: its mesh /128, node addresses and advertised networks. */
    allowedIps: z.array(z.string()),
    /** Where it may be reached, `ip:port`, in the order to try them. */
    endpoints: z.array(z.string()),
    /** Prefixes this peer announced that another peer keeps. */
    overlaps: z.array(overlap),
  }),
});

export const meshPeerStates = ["up", "down", "unknown"] as const;

/** A peer as WireGuard sees it now (`wg show dump`, every second). */
export const MeshPeerStatus = defineResource({
  type: "MeshPeerStatus",
  namespace: "mesh",
  aliases: ["meshpeers", "meshpeer", "meshpeerstatuses"],
  printColumns: [
    { name: "Hostname", path: "hostname" },
    { name: "Endpoint", path: "endpoint" },
    { name: "State", path: "state" },
    { name: "Last-Handshake", path: "lastHandshake" },
    { name: "Rx", path: "rxBytes" },
    { name: "Tx", path: "txBytes" },
  ],
  schema: z.strictObject({
    hostname: z.string(),
    publicKey: z.string(),
    address: z.string(),
    /** The endpoint WireGuard uses now (it may have roamed there); empty when none. */
    endpoint: z.string(),
    state: z.enum(meshPeerStates),
    /** ISO time of the latest handshake; empty when never. */
    lastHandshake: z.string(),
    rxBytes: z.number().int().nonnegative(),
    txBytes: z.number().int().nonnegative(),
    /** Endpoints tried since the peer was last up, while looking for one that works. */
    probes: z.number().int().nonnegative(),
  }),
});

export const meshStatusId = "mesh";

/** The mesh of this node as a whole: whether it runs, and how many peers are up. */
export const MeshStatus = defineResource({
  type: "MeshStatus",
  namespace: "mesh",
  aliases: ["meshstatuses"],
  printColumns: [
    { name: "Enabled", path: "enabled" },
    { name: "Link", path: "link" },
    { name: "Peers", path: "peers" },
    { name: "Up", path: "peersUp" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    enabled: z.boolean(),
    /** The link is configured and its routing applied. */
    link: z.boolean(),
    address: z.string(),
    peers: z.number().int().nonnegative(),
    peersUp: z.number().int().nonnegative(),
    error: z.string().optional(),
  }),
});
