import type { ClusterPlan, NodePlan } from "./cluster-plan.ts";
import { sh } from "./commands.ts";

/**
 * The cluster's network: a bridge on the host holding the first address of the CIDR, and per
 * node a network namespace joined to the bridge by a veth pair. No default route and no NAT:
 * nodes reach each other and the host, nothing else.
 */
export async function createBridge(plan: ClusterPlan): Promise<void> {
  await sh("ip", ["link", "add", plan.bridge, "type", "bridge"]);
  await sh("ip", ["addr", "add", `${plan.gateway}/${plan.prefixLength}`, "dev", plan.bridge]);
  await sh("ip", ["link", "set", plan.bridge, "up"]);
}

export async function createNodeNetwork(plan: ClusterPlan, node: NodePlan): Promise<void> {
  const inNs = (...args: string[]) => sh("ip", ["-n", node.netns, ...args]);
  await sh("ip", ["netns", "add", node.netns]);
  await sh("ip", ["link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns]);
  await sh("ip", ["link", "set", node.veth, "master", plan.bridge]);
  await sh("ip", ["link", "set", node.veth, "up"]);
  await inNs("link", "set", "lo", "up");
  await inNs("addr", "add", `${node.ip}/${plan.prefixLength}`, "dev", "eth0");
  await inNs("link", "set", "eth0", "up");
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
export async function destroyNodeNetwork(node: NodePlan, options: { graceMs?: number } = {}): Promise<void> {
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
  await sh("ip", ["link", "del", node.veth], { allowFail: true });
  await sh("ip", ["netns", "del", node.netns], { allowFail: true });
}

export async function destroyBridge(plan: ClusterPlan): Promise<void> {
  await sh("ip", ["link", "del", plan.bridge], { allowFail: true });
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
