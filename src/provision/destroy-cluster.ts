import { readFile, rm } from "node:fs/promises";
import { PlinthError } from "../errors/plinth-error.ts";
import { destroyLinks, destroyNodeNetwork, netnsExists } from "./cluster-network.ts";
import { isNodeNamespace, possibleNames } from "./cluster-plan.ts";
import { clusterDir, readRecord, writeRecord } from "./cluster-record.ts";
import { sh } from "./commands.ts";

/**
 * Removes a cluster's processes, namespaces, bridges and files: from its record, or (after a
 * crash before the record was written) from the names a cluster of that name would use.
 */
export async function destroyCluster(
  name: string,
  options: { progress?: (line: string) => void } = {},
): Promise<void> {
  const say = options.progress ?? (() => {});
  const record = await readRecord(name);
  const candidates = possibleNames(name);
  const existing = (await sh("ip", ["netns", "list"], { allowFail: true }))
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
  if (record) {
    record.status = "destroying";
    await writeRecord(record).catch(() => {});
  } else if (
    !existing.some((n) => isNodeNamespace(name, n) || candidates.namespaces.includes(n)) &&
    (await destroyLinks(candidates.links)).length === 0
  ) {
    throw new PlinthError("not_found", `no cluster named ${name} (nothing under ${clusterDir(name)})`);
  }

  // The discovery service first: with nodes gone it has nothing left to serve.
  if (record?.discoveryPid) await killIf(record.discoveryPid, "discovery");
  const discoveryNs = record?.discovery?.netns ?? `plinth-${name}-discovery`;
  if (await netnsExists(discoveryNs)) {
    await destroyNodeNetwork({ netns: discoveryNs, veth: record?.discovery?.veth });
    say("discovery service: stopped");
  }

  const nodes: { name: string; netns: string; veth?: string }[] = record
    ? [...record.nodes]
    : existing.filter((n) => isNodeNamespace(name, n)).map((n) => ({ name: n, netns: n }));
  for (const node of nodes) {
    // The node's init stops the agent (and it its services) and does not start it again.
    const pid = record?.pids[node.name];
    if (pid) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // gone already
      }
    }
    if (await netnsExists(node.netns)) {
      await destroyNodeNetwork(node);
      say(`node ${node.name}: removed`);
    }
  }

  const routers = new Set([
    ...(record?.sites.flatMap((s) => (s.router ? [s.router.netns] : [])) ?? []),
    ...candidates.namespaces.filter((n) => n !== discoveryNs && existing.includes(n)),
  ]);
  for (const netns of routers) {
    if (await netnsExists(netns)) {
      await destroyNodeNetwork({ netns });
      say(`router ${netns}: removed`);
    }
  }

  const links = [
    ...(record?.sites.map((s) => s.bridge) ?? []),
    ...(record?.public ? [record.public.bridge] : []),
    ...candidates.links,
  ];
  const removed = await destroyLinks([...new Set(links)]);
  if (removed.length > 0) say(`network: ${removed.join(", ")} removed`);
  await rm(clusterDir(name), { recursive: true, force: true });
}

/** Stops a recorded process, unless its pid now belongs to something else. */
async function killIf(pid: number, mustMention: string): Promise<void> {
  const argv = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!argv.includes(mustMention)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // gone already
  }
}
