import type { ClusterPlan, DiscoveryPlan, NodePlan, SitePlan } from "./cluster-plan.ts";
import { sh } from "./commands.ts";

/**
 * The cluster's network. Flat: one bridge on the host holding the first address of the CIDR,
 * and per node a network namespace joined to the bridge by a veth pair; no default route and no
 * NAT, nodes reach each other and the host, nothing else. Nat: one such bridge per site (the
 * host keeps an address on each, to reach the nodes' APIs), a router namespace per site between
 * the site bridge and a public bridge, masquerading in its own nftables; the nodes' default
 * route is their site router. The host never forwards: ip_forward is set only inside routers.
 */
export async function createBridges(plan: ClusterPlan): Promise<void> {
  for (const site of plan.sites) {
    await sh("ip", ["link", "add", site.bridge, "type", "bridge"]);
    await sh("ip", ["addr", "add", `${site.hostIp}/${site.prefixLength}`, "dev", site.bridge]);
    await sh("ip", ["link", "set", site.bridge, "up"]);
  }
  if (plan.public) {
    await sh("ip", ["link", "add", plan.public.bridge, "type", "bridge"]);
    await sh("ip", ["link", "set", plan.public.bridge, "up"]);
  }
}

/** A namespace joined to `bridge` by a veth whose inside end is `inside`, with `address/length`. */
async function attachNamespace(
  netns: string,
  veth: string,
  bridge: string,
  inside: string,
  address: string,
  prefixLength: number,
  options: { create: boolean },
): Promise<void> {
  if (options.create) {
    await sh("ip", ["netns", "add", netns]);
    await sh("ip", ["-n", netns, "link", "set", "lo", "up"]);
  }
  await sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", inside, "netns", netns]);
  await sh("ip", ["link", "set", veth, "master", bridge]);
  await sh("ip", ["link", "set", veth, "up"]);
  await sh("ip", ["-n", netns, "addr", "add", `${address}/${prefixLength}`, "dev", inside]);
  await sh("ip", ["-n", netns, "link", "set", inside, "up"]);
}

export async function createNodeNetwork(plan: ClusterPlan, node: NodePlan): Promise<void> {
  const site = plan.sites[node.site]!;
  await attachNamespace(node.netns, node.veth, site.bridge, "eth0", node.ip, site.prefixLength, {
    create: true,
  });
  if (node.defaultGateway) {
    await sh("ip", ["-n", node.netns, "route", "add", "default", "via", node.defaultGateway]);
  }
}

/**
 * The site's NAT router: forwarding on inside its namespace only, masquerade of what leaves on
 * the public side, and nothing unsolicited let in from there (no port forwarding, as a home or
 * cloud NAT). Packets dropped before conntrack confirms them leave no entry behind, so a peer
 * probing too early cannot spoil the mapping its own later reply needs.
 */
export async function createRouter(plan: ClusterPlan, site: SitePlan): Promise<void> {
  const router = site.router;
  if (!router || !plan.public) return;
  await attachNamespace(
    router.netns,
    router.siteVeth,
    site.bridge,
    "site",
    router.siteIp,
    site.prefixLength,
    {
      create: true,
    },
  );
  await attachNamespace(
    router.netns,
    router.publicVeth,
    plan.public.bridge,
    "public",
    router.publicIp,
    plan.public.prefixLength,
    { create: false },
  );
  await sh("ip", ["netns", "exec", router.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  await sh("ip", ["netns", "exec", router.netns, "nft", "-f", "-"], { input: natRuleset });
}

/** nftables of a site router (inside its namespace). */
export const natRuleset = `table ip plinth_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "public" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "site" oifname "public" accept
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "public" ct state established,related accept
    iifname "public" icmp type echo-request accept
    iifname "public" drop
  }
}
`;

/** The discovery service's namespace, on the flat bridge or the public one. */
export async function createDiscoveryNetwork(discovery: DiscoveryPlan): Promise<void> {
  await attachNamespace(
    discovery.netns,
    discovery.veth,
    discovery.bridge,
    "eth0",
    discovery.ip,
    discovery.prefixLength,
    { create: true },
  );
}

/** Processes inside a node's network namespace (agent, its services, init). */
export async function namespacePids(netns: string): Promise<number[]> {
  const out = await sh("ip", ["netns", "pids", netns], { allowFail: true });
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Removes a node's namespace and its veth; idempotent. What still runs inside gets SIGTERM and a
 * few seconds to stop its own children (the agent stops its services and reaps them), then
 * SIGKILL.
 */
export async function destroyNodeNetwork(
  node: { netns: string; veth?: string },
  options: { graceMs?: number } = {},
): Promise<void> {
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal(await namespacePids(node.netns), "SIGTERM");
  const deadline = Date.now() + (options.graceMs ?? 3000);
  let left = await namespacePids(node.netns);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await namespacePids(node.netns);
  }
  signal(left, "SIGKILL");
  if (node.veth) await sh("ip", ["link", "del", node.veth], { allowFail: true });
  await sh("ip", ["netns", "del", node.netns], { allowFail: true });
}

/** Removes the links (bridges, stray veth ends) that exist among `names`. */
export async function destroyLinks(names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    if (await linkExists(name)) {
      await sh("ip", ["link", "del", name], { allowFail: true });
      removed.push(name);
    }
  }
  return removed;
}

export async function linkExists(name: string): Promise<boolean> {
  const out = await sh("ip", ["-json", "link", "show", name], { allowFail: true });
  return out.trim().startsWith("[") && out.includes(name);
}

export async function netnsExists(name: string): Promise<boolean> {
  const out = await sh("ip", ["netns", "list"], { allowFail: true });
  return out.split("\n").some((l) => l.split(" ")[0] === name);
}

/** IPv4 routes of the host, to refuse a CIDR that overlaps a network the host already uses. */
export async function hostRoutes(): Promise<string[]> {
  const out = await sh("ip", ["-json", "-4", "route", "show"], { allowFail: true });
  try {
    return (JSON.parse(out) as { dst: string }[]).map((r) => r.dst).filter((d) => d && d !== "default");
  } catch {
    return [];
  }
}
