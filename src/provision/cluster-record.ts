import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ClusterPlan } from "./cluster-plan.ts";

/** What `cluster create` made, written before each step so `cluster destroy` can undo a crash. */
export interface ClusterRecord extends ClusterPlan {
  status: "creating" | "running" | "failed" | "destroying";
  createdAt: string;
  /** Process group of each node's init process, by node name. */
  pids: Record<string, number>;
  /** Process group of the discovery service (with the mesh). */
  discoveryPid?: number;
  error?: string;
}

export function clustersDir(): string {
  return process.env.PLINTH_CLUSTERS_DIR || join(homedir(), ".plinth", "clusters");
}

export function clusterDir(name: string): string {
  return join(clustersDir(), name);
}

export async function writeRecord(record: ClusterRecord): Promise<void> {
  const dir = clusterDir(record.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.cluster.json.${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, join(dir, "cluster.json"));
}

export async function readRecord(name: string): Promise<ClusterRecord | undefined> {
  try {
    return withDefaults(
      JSON.parse(await readFile(join(clusterDir(name), "cluster.json"), "utf8")) as ClusterRecord,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export async function listRecords(): Promise<ClusterRecord[]> {
  let names: string[];
  try {
    names = await readdir(clustersDir());
  } catch {
    return [];
  }
  const records = await Promise.all(names.map((n) => readRecord(n).catch(() => undefined)));
  return records.filter((r): r is ClusterRecord => r !== undefined);
}

/** Records written before sites and topologies existed describe one flat site. */
function withDefaults(record: ClusterRecord): ClusterRecord {
  if (record.sites) return record;
  return {
    ...record,
    topology: "flat",
    mesh: false,
    sites: [
      {
        name: "site-1",
        cidr: record.cidr,
        prefixLength: record.prefixLength,
        bridge: record.bridge,
        hostIp: record.gateway,
      },
    ],
    nodes: record.nodes.map((n) => ({ ...n, site: n.site ?? 0 })),
  };
}
