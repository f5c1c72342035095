import { rm } from "node:fs/promises";
import { PlinthError } from "../errors/plinth-error.ts";
import { destroyBridge, destroyNodeNetwork, linkExists, netnsExists } from "./cluster-network.ts";
import { planCluster } from "./cluster-plan.ts";
import { type ClusterRecord, clusterDir, readRecord, writeRecord } from "./cluster-record.ts";
import { sh } from "./commands.ts";

/**
 * Removes a cluster's processes, namespaces, bridge and files: from its record, or (after a
 * crash before the record was written) from the names a cluster of that name would use.
 */
export async function destroyCluster(
  name: string,
  options: { progress?: (line: string) => void } = {},
): Promise<void> {
  const say = options.progress ?? (() => {});
  const record = await readRecord(name);
  let plan: ClusterRecord;
  if (!record) {
    // No record: look for leftovers named as a cluster of this name would name them.
    const namespaces = (await sh("ip", ["netns", "list"], { allowFail: true }))
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(`plinth-${name}-`));
    const guess = planCluster({
      name,
      controlplanes: Math.max(1, namespaces.length),
      workers: 0,
      cidr: "10.255.0.0/16",
    });
    if (namespaces.length === 0 && !(await linkExists(guess.bridge))) {
      throw new PlinthError("not_found", `no cluster named ${name} (nothing under ${clusterDir(name)})`);
    }
    plan = { ...guess, status: "destroying", createdAt: "", pids: {} };
  } else {
    plan = record;
    record.status = "destroying";
    await writeRecord(record).catch(() => {});
  }
  for (const node of plan.nodes) {
    // The node's init stops the agent (and it its services) and does not start it again.
    const pid = plan.pids[node.name];
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
  await destroyBridge(plan);
  say(`network: bridge ${plan.bridge} removed`);
  await rm(clusterDir(name), { recursive: true, force: true });
}
