import { createHash } from "node:crypto";
import {
  formatIp,
  formatPrefix,
  hasHostBits,
  type IpPrefix,
  networkOf,
  parsePrefix,
} from "../config/net/ip.ts";

export type NodeRole = "controlplane" | "worker";

export interface NodePlan {
  readonly name: string;
  readonly role: NodeRole;
  readonly ip: string;
  /** Network namespace (`ip netns`) holding the node. */
  readonly netns: string;
  /** Host end of the node's veth pair, attached to the bridge. */
  readonly veth: string;
}

export interface ClusterPlan {
  readonly name: string;
  readonly cidr: string;
  readonly prefixLength: number;
  readonly bridge: string;
  /** The host's address on the bridge. */
  readonly gateway: string;
  readonly nodes: readonly NodePlan[];
}

export interface PlanOptions {
  readonly name: string;
  readonly controlplanes: number;
  readonly workers: number;
  readonly cidr: string;
}

const clusterName = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * Names and addresses of everything `cluster create` makes, checked before anything exists:
 * the bridge takes the first host address of the CIDR, nodes the next ones, control planes first.
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
  const total = options.controlplanes + options.workers;
  const capacity = 2 ** (32 - prefix.prefixLength) - 3; // network, bridge, broadcast
  if (prefix.prefixLength > 30 || total > capacity) {
    throw new RangeError(
      `--cidr ${options.cidr} has room for ${Math.max(0, capacity)} nodes, ${total} requested`,
    );
  }
  const tag = createHash("sha256").update(options.name).digest("hex").slice(0, 6);
  const nodes: NodePlan[] = [];
  for (let i = 0; i < total; i++) {
    const role: NodeRole = i < options.controlplanes ? "controlplane" : "worker";
    const index = role === "controlplane" ? i + 1 : i - options.controlplanes + 1;
    nodes.push({
      name: `${options.name}-${role}-${index}`,
      role,
      ip: formatIp(offset(prefix, 2 + i)),
      netns: `plinth-${options.name}-${i + 1}`,
      veth: `plv${tag}-${i + 1}`,
    });
  }
  return {
    name: options.name,
    cidr: options.cidr,
    prefixLength: prefix.prefixLength,
    bridge: `plb-${tag}`,
    gateway: formatIp(offset(prefix, 1)),
    nodes,
  };
}

function offset(prefix: IpPrefix, n: number) {
  const net = networkOf(prefix).bytes;
  const value = ((net[0]! << 24) | (net[1]! << 16) | (net[2]! << 8) | net[3]!) + n;
  return {
    family: 4 as const,
    bytes: Uint8Array.from([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]),
  };
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
