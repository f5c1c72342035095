import { createHash } from "node:crypto";
import { formatPrefix, hasHostBits, networkOf, parsePrefix } from "../config/net/ip.ts";

export type NodeRole = "controlplane" | "worker";

/** `flat`: every node on one bridge. `nat`: nodes in separate sites, each behind its own NAT router. */
export const topologies = ["flat", "nat"] as const;
export type Topology = (typeof topologies)[number];

export interface NodePlan {
  readonly name: string;
  readonly role: NodeRole;
  readonly ip: string;
  /** Network namespace (`ip netns`) holding the node. */
  readonly netns: string;
  /** Host end of the node's veth pair, attached to its site's bridge. */
  readonly veth: string;
  /** Index into `ClusterPlan.sites`. */
  readonly site: number;
  /** The node's default route (its site router); none in the flat topology. */
  readonly defaultGateway?: string;
  /** The node's WireGuard port when it differs from the default 51820. */
  readonly meshPort?: number;
}

/** A NAT router: a network namespace between a site bridge and the public bridge. */
export interface RouterPlan {
  readonly netns: string;
  /** The router's address on the site: the default gateway of the site's nodes. */
  readonly siteIp: string;
  readonly publicIp: string;
  /** Host end of the veth into the site bridge (`site` inside the router). */
  readonly siteVeth: string;
  /** Host end of the veth into the public bridge (`public` inside the router). */
  readonly publicVeth: string;
}

/** One layer-2 network of nodes: a bridge on the host, which holds an address on it. */
export interface SitePlan {
  readonly name: string;
  readonly cidr: string;
  readonly prefixLength: number;
  readonly bridge: string;
  /** The host's address on the bridge: the provisioner and the CLI reach the nodes through it. */
  readonly hostIp: string;
  readonly router?: RouterPlan;
}

/** The network between the site routers (nat topology); the host holds no address on it. */
export interface PublicNetworkPlan {
  readonly cidr: string;
  readonly prefixLength: number;
  readonly bridge: string;
}

/** The cluster's discovery service: `plinth discovery serve` in a namespace of its own. */
export interface DiscoveryPlan {
  readonly netns: string;
  /** Host end of its veth, on the flat bridge or the public bridge. */
  readonly veth: string;
  readonly bridge: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly port: number;
  readonly url: string;
}

export interface ClusterPlan {
  readonly name: string;
  readonly cidr: string;
  readonly topology: Topology;
  /** Whether the generated configs turn the WireGuard mesh on (and a discovery service runs). */
  readonly mesh: boolean;
  /** Prefix length, bridge and host address of the first site (the only one when flat). */
  readonly prefixLength: number;
  readonly bridge: string;
  readonly gateway: string;
  readonly sites: readonly SitePlan[];
  readonly public?: PublicNetworkPlan;
  readonly discovery?: DiscoveryPlan;
  readonly nodes: readonly NodePlan[];
}

export interface PlanOptions {
  readonly name: string;
  readonly controlplanes: number;
  readonly workers: number;
  readonly cidr: string;
  readonly topology?: string;
  /** Sites of the nat topology (default 2). */
  readonly sites?: number;
  readonly withMesh?: boolean;
}

const clusterName = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
export const defaultMeshPort = 51820;
export const discoveryPort = 3000;
export const maxSites = 8;

/** The short tag in a cluster's link names (link names have at most 15 characters). */
export function clusterTag(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 6);
}

/** Every link and namespace name a cluster of this name may use, for removal without a record. */
export function possibleNames(name: string): { links: string[]; namespaces: string[] } {
  const tag = clusterTag(name);
  const links = [`plb-${tag}`, `plb${tag}-pub`, `pld${tag}`];
  const namespaces = [`plinth-${name}-discovery`];
  for (let k = 1; k <= maxSites; k++) {
    links.push(`plb${tag}-s${k}`, `plr${tag}-${k}s`, `plr${tag}-${k}p`);
    namespaces.push(`plinth-${name}-router-${k}`);
  }
  return { links, namespaces };
}

/** Node namespaces are `plinth-<name>-<n>`. */
export function isNodeNamespace(clusterName: string, netns: string): boolean {
  return netns.startsWith(`plinth-${clusterName}-`) && /^\d+$/.test(netns.slice(clusterName.length + 8));
}

/**
 * Names and addresses of everything `cluster create` makes, checked before anything exists.
 * Flat: one bridge, the host takes the CIDR's first address, nodes the next ones (control planes
 * first), the discovery service (with the mesh) the last. Nat: the CIDR is cut into equal
 * pieces, one per site and the last for the public network; in each site the router takes the
 * first address, the host the last, nodes those between; the discovery service sits on the
 * public network, so nodes reach it through their NAT as they would a service on the internet.
 */
export function planCluster(options: PlanOptions): ClusterPlan {
  if (!clusterName.test(options.name)) {
    throw new TypeError(
      `--name must be 1-32 lowercase letters, digits or '-' (not at the ends), current value is '${options.name}'`,
    );
  }
  for (const [flag, value, min] of [
    ["--controlplanes", options.controlplanes, 1],
    ["--workers", options.workers, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min || value > 50) {
      throw new RangeError(`${flag} must be a whole number from ${min} to 50, current value is ${value}`);
    }
  }
  const topology = (options.topology ?? "flat") as Topology;
  if (!topologies.includes(topology)) {
    throw new TypeError(
      `--topology must be one of ${topologies.join(", ")}, current value is '${options.topology}'`,
    );
  }
  if (topology === "flat" && options.sites !== undefined && options.sites !== 1) {
    throw new TypeError(`--sites is for --topology nat; the flat topology has one site`);
  }
  const siteCount = topology === "nat" ? (options.sites ?? 2) : 1;
  if (topology === "nat" && (!Number.isInteger(siteCount) || siteCount < 2 || siteCount > maxSites)) {
    throw new RangeError(
      `--sites must be a whole number from 2 to ${maxSites}, current value is ${options.sites}`,
    );
  }
  const prefix = parsePrefix(options.cidr);
  if (prefix?.address.family !== 4) {
    throw new TypeError(
      `--cidr must be an IPv4 network like 10.5.0.0/24, current value is '${options.cidr}'`,
    );
  }
  if (hasHostBits(prefix)) {
    throw new TypeError(
      `--cidr must name a network (no host bits), current value is '${options.cidr}', did you mean ${formatPrefix({ address: networkOf(prefix), prefixLength: prefix.prefixLength })}?`,
    );
  }
  const mesh = options.withMesh ?? false;
  const tag = clusterTag(options.name);
  const total = options.controlplanes + options.workers;
  const base = toInt(networkOf(prefix).bytes);

  // Which site each node lives in: control planes together in the first site (etcd peers on one
  // network, as in a real data centre), workers spread over the sites starting with the second.
  const siteOf = (i: number) => (i < options.controlplanes ? 0 : (1 + i - options.controlplanes) % siteCount);

  const sites: SitePlan[] = [];
  let pub: PublicNetworkPlan | undefined;
  let discoveryIp: string | undefined;
  let discoveryBridge: string;
  let discoveryLength: number;
  if (topology === "flat") {
    const capacity = 2 ** (32 - prefix.prefixLength) - 3 - (mesh ? 1 : 0); // network, host, broadcast, discovery
    if (prefix.prefixLength > 30 || total > capacity) {
      throw new RangeError(
        `--cidr ${options.cidr} has room for ${Math.max(0, capacity)} nodes, ${total} requested`,
      );
    }
    sites.push({
      name: "site-1",
      cidr: options.cidr,
      prefixLength: prefix.prefixLength,
      bridge: `plb-${tag}`,
      hostIp: fromInt(base + 1),
    });
    discoveryIp = fromInt(base + 2 ** (32 - prefix.prefixLength) - 2);
    discoveryBridge = sites[0]!.bridge;
    discoveryLength = prefix.prefixLength;
  } else {
    let pieces = 1;
    while (pieces < siteCount + 1) pieces *= 2;
    const pieceLength = prefix.prefixLength + Math.log2(pieces);
    if (pieceLength > 29) {
      throw new RangeError(
        `--cidr ${options.cidr} is too small for ${siteCount} sites and a public network: each needs at least a /29, so at least a /${29 - Math.log2(pieces)}`,
      );
    }
    const size = 2 ** (32 - pieceLength);
    const pubBase = base + (pieces - 1) * size;
    pub = { cidr: `${fromInt(pubBase)}/${pieceLength}`, prefixLength: pieceLength, bridge: `plb${tag}-pub` };
    for (let k = 0; k < siteCount; k++) {
      const siteBase = base + k * size;
      const wanted = Array.from({ length: total }, (_, i) => siteOf(i)).filter((s) => s === k).length;
      const capacity = size - 4; // network, router, host, broadcast
      if (wanted > capacity) {
        throw new RangeError(
          `--cidr ${options.cidr} gives each of ${siteCount} sites a /${pieceLength} with room for ${capacity} nodes, site-${k + 1} needs ${wanted}`,
        );
      }
      sites.push({
        name: `site-${k + 1}`,
        cidr: `${fromInt(siteBase)}/${pieceLength}`,
        prefixLength: pieceLength,
        bridge: `plb${tag}-s${k + 1}`,
        hostIp: fromInt(siteBase + size - 2),
        router: {
          netns: `plinth-${options.name}-router-${k + 1}`,
          siteIp: fromInt(siteBase + 1),
          publicIp: fromInt(pubBase + 1 + k),
          siteVeth: `plr${tag}-${k + 1}s`,
          publicVeth: `plr${tag}-${k + 1}p`,
        },
      });
    }
    discoveryIp = fromInt(pubBase + size - 2);
    discoveryBridge = pub.bridge;
    discoveryLength = pieceLength;
  }

  const used = new Array<number>(siteCount).fill(0);
  const nodes: NodePlan[] = [];
  for (let i = 0; i < total; i++) {
    const role: NodeRole = i < options.controlplanes ? "controlplane" : "worker";
    const index = role === "controlplane" ? i + 1 : i - options.controlplanes + 1;
    const k = siteOf(i);
    const site = sites[k]!;
    const siteBase = toInt(networkOf(parsePrefix(site.cidr)!).bytes);
    used[k]! += 1;
    nodes.push({
      name: `${options.name}-${role}-${index}`,
      role,
      ip: fromInt(siteBase + 1 + used[k]!),
      netns: `plinth-${options.name}-${i + 1}`,
      veth: `plv${tag}-${i + 1}`,
      site: k,
      ...(site.router ? { defaultGateway: site.router.siteIp } : {}),
      // Behind a NAT every node keeps its own port, so the routers' masquerade keeps the ports
      // and the endpoint a node announces (public address + its port) is the one peers reach.
      ...(mesh && topology === "nat" ? { meshPort: defaultMeshPort + i } : {}),
    });
  }
  const first = sites[0]!;
  return {
    name: options.name,
    cidr: options.cidr,
    topology,
    mesh,
    prefixLength: first.prefixLength,
    bridge: first.bridge,
    gateway: first.hostIp,
    sites,
    ...(pub ? { public: pub } : {}),
    ...(mesh
      ? {
          discovery: {
            netns: `plinth-${options.name}-discovery`,
            veth: `pld${tag}`,
            bridge: discoveryBridge,
            ip: discoveryIp,
            prefixLength: discoveryLength,
            port: discoveryPort,
            url: `http://${discoveryIp}:${discoveryPort}`,
          },
        }
      : {}),
    nodes,
  };
}

function toInt(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

function fromInt(value: number): string {
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** Do two IPv4 CIDRs share any address? */
export function cidrsOverlap(a: string, b: string): boolean {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  if (!pa || !pb || pa.address.family !== pb.address.family) return false;
  const len = Math.min(pa.prefixLength, pb.prefixLength);
  const na = networkOf({ address: pa.address, prefixLength: len }).bytes;
  const nb = networkOf({ address: pb.address, prefixLength: len }).bytes;
  return na.every((x, i) => x === nb[i]);
}
