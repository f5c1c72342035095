import { formatIp, formatPrefix, parseIp, parsePrefix } from "../../../config/net/ip.ts";
import type { Host } from "../../host/host.ts";

/** What Plinth reads of iproute2's JSON output; fields it does not use are left out. */
interface IpLinkJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  link_type?: string;
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  protocol?: string;
}

export interface ObservedLink {
  readonly name: string;
  readonly index: number;
  /** netlink's info_kind (`bridge`, `veth`, `vlan`, …), else the link type (`ether`, `loopback`). */
  readonly kind: string;
  readonly up: boolean;
  readonly operState: string;
  readonly mtu: number;
  readonly hardwareAddr?: string;
  readonly master?: string;
}

export interface ObservedAddress {
  readonly link: string;
  /** address/prefix-length, canonical text. */
  readonly address: string;
  readonly family: 4 | 6;
  readonly scope: string;
}

export interface ObservedRoute {
  /** Canonical prefix; `default` is 0.0.0.0/0 or ::/0. */
  readonly destination: string;
  readonly gateway?: string;
  readonly link?: string;
  readonly metric: number;
  readonly family: 4 | 6;
  readonly protocol?: string;
}

/** Every link, by name (`ip -json -details link show`). */
export async function readLinks(host: Host): Promise<Map<string, ObservedLink>> {
  const links = await host.ipJson<IpLinkJson[]>(["-details", "link", "show"]);
  return new Map(
    links.map((l) => [
      l.ifname,
      {
        name: l.ifname,
        index: l.ifindex,
        kind: l.linkinfo?.info_kind ?? l.link_type ?? "unknown",
        up: l.flags?.includes("UP") ?? false,
        operState: l.operstate ?? "UNKNOWN",
        mtu: l.mtu,
        ...(l.address ? { hardwareAddr: l.address } : {}),
        ...(l.master ? { master: l.master } : {}),
      },
    ]),
  );
}

/** Every address, and the names of every link (`ip -json address show`). */
export async function readAddresses(
  host: Host,
): Promise<{ links: Set<string>; addresses: ObservedAddress[] }> {
  const links = await host.ipJson<IpLinkJson[]>(["address", "show"]);
  const addresses: ObservedAddress[] = [];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      const ip = parseIp(a.local);
      if (!ip || (a.family !== "inet" && a.family !== "inet6")) continue;
      addresses.push({
        link: l.ifname,
        address: formatPrefix({ address: ip, prefixLength: a.prefixlen }),
        family: ip.family,
        scope: a.scope ?? "global",
      });
    }
  }
  return { links: new Set(links.map((l) => l.ifname)), addresses };
}

/** The routes of the main table, IPv4 and IPv6. */
export async function readRoutes(host: Host): Promise<ObservedRoute[]> {
  const routes: ObservedRoute[] = [];
  for (const family of [4, 6] as const) {
    const list = await host.ipJson<IpRouteJson[]>([`-${family}`, "route", "show", "table", "main"]);
    for (const r of list) {
      const destination = routeDestination(r.dst, family);
      if (!destination) continue; // unreachable/blackhole forms Plinth does not write
      const gateway = r.gateway ? parseIp(r.gateway) : undefined;
      routes.push({
        destination,
        ...(gateway ? { gateway: formatIp(gateway) } : {}),
        ...(r.dev ? { link: r.dev } : {}),
        metric: r.metric ?? 0,
        family,
        ...(r.protocol ? { protocol: r.protocol } : {}),
      });
    }
  }
  return routes;
}

function routeDestination(dst: string, family: 4 | 6): string | undefined {
  if (dst === "default") return family === 4 ? "0.0.0.0/0" : "::/0";
  const prefix = parsePrefix(dst.includes("/") ? dst : `${dst}/${family === 4 ? 32 : 128}`);
  return prefix ? formatPrefix(prefix) : undefined;
}
