import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import type { MachineSecretsDocument } from "../config/generate/generate-secrets.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { createNodeNetwork, netnsExists } from "./cluster-network.ts";
import { type NodePlan, planCluster } from "./cluster-plan.ts";
import { clusterDir, readRecord, writeRecord } from "./cluster-record.ts";
import { insecureMachine, machineConfigs, until } from "./create-cluster.ts";
import { launchNode, prepareNodeDirs } from "./node-launcher.ts";

export interface AddedNode {
  readonly node: NodePlan;
  /** When the node's agent was started, and when it accepted its config (`performance.now()`). */
  readonly launchedAt: number;
  readonly appliedAt: number;
}

/**
 * Adds a worker to a running local cluster: the node the plan of one more worker would add (same
 * site rule, next address), started and configured like the others, with the cluster's secrets.
 * Patches given at create time are not applied again.
 */
export async function addWorker(
  name: string,
  options: { waitTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<AddedNode> {
  const record = await readRecord(name);
  if (!record) throw new PlinthError("not_found", `no cluster named ${name}`);
  if (record.status !== "running") {
    throw new PlinthError("failed_precondition", `cluster ${name} is ${record.status}, not running`);
  }
  const controlplanes = record.nodes.filter((n) => n.role === "controlplane").length;
  const plan = planCluster({
    name,
    controlplanes,
    workers: record.nodes.length - controlplanes + 1,
    cidr: record.cidr,
    topology: record.topology,
    ...(record.topology === "nat" ? { sites: record.sites.length } : {}),
    withMesh: record.mesh,
  });
  const node = plan.nodes.at(-1)!;
  if (await netnsExists(node.netns)) {
    throw new PlinthError("already_exists", `network namespace ${node.netns} exists already`);
  }
  const dir = clusterDir(name);
  const deadline = Date.now() + (options.waitTimeoutMs ?? 60_000);
  await createNodeNetwork(plan, node);
  const grown = { ...record, nodes: [...record.nodes, node] };
  await writeRecord(grown);
  await prepareNodeDirs(dir, node);
  const launchedAt = performance.now();
  grown.pids[node.name] = await launchNode(dir, node);
  await writeRecord(grown);

  const secrets = parse(await readFile(join(dir, "secrets.yaml"), "utf8")) as MachineSecretsDocument;
  const config = (await machineConfigs(plan, secrets, {})).get(node.name)!;
  const m = insecureMachine(node);
  try {
    await until(`${node.name} to answer in maintenance mode`, deadline, async () =>
      options.signal?.aborted
        ? Promise.reject(options.signal.reason)
        : (await m.client.version({})).messages[0]?.maintenance
          ? true
          : undefined,
    );
    await m.client.applyConfiguration({ data: new TextEncoder().encode(config) });
  } finally {
    m.close();
  }
  return { node, launchedAt, appliedAt: performance.now() };
}
