// Cluster benchmark (root): `plinth cluster create` of 3 control planes + 2 workers until
// `plinth health` passes, a rolling `plinth upgrade` of all 5 nodes to a new bundle, then
// `plinth cluster destroy`, each timed as a user runs them.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createClusterHome } from "../src/testing/cluster-home.ts";
import { type BenchOptions, type Figure, printFigures, round } from "./harness.ts";

export async function clusterBench(_options: BenchOptions): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0)
    throw new Error("the cluster benchmark needs root (network namespaces and a bridge)");
  const home = await createClusterHome("plinth-bench-cluster-", { timeoutMs: 300_000 });
  const { cli } = home;
  const name = "bench";
  try {
    const t0 = performance.now();
    const created = await home.create({ name: name, controlplanes: 3, workers: 2, cidr: "10.240.0.0/24" });
    if (created.code !== 0) throw new Error(`cluster create failed:\n${created.stdout}${created.stderr}`);
    const health = await cli("health", "--wait-timeout", "2m");
    if (health.code !== 0) throw new Error(`cluster never became healthy:\n${health.stdout}${health.stderr}`);
    const createToHealthyS = round((performance.now() - t0) / 1000, 2);
    // The bundle is made before the clock starts: what is timed is the rollout.
    const bundle = join(home.dir, "bundle.tar.gz");
    const made = await cli("bundle", "create", "--out", bundle, "--version", "0.0.0-bench.1");
    if (made.code !== 0) throw new Error(`bundle create failed:\n${made.stderr}`);
    const nodes = [2, 3, 4, 5, 6].map((i) => `10.240.0.${i}`).join(",");
    const tu = performance.now();
    const upgraded = await cli("-n", nodes, "upgrade", "--bundle", bundle, "--timeout", "90s");
    if (upgraded.code !== 0) throw new Error(`rolling upgrade failed:\n${upgraded.stdout}${upgraded.stderr}`);
    const rollingUpgradeS = round((performance.now() - tu) / 1000, 2);
    const t1 = performance.now();
    const destroyed = await cli("cluster", "destroy", "--name", name);
    if (destroyed.code !== 0) throw new Error(`cluster destroy failed:\n${destroyed.stderr}`);
    const destroyS = round((performance.now() - t1) / 1000, 2);
    const figures: Figure[] = [
      {
        key: "createToHealthyS",
        label: "create 3 control planes + 2 workers until health passes",
        value: createToHealthyS,
        unit: "s",
        target: { value: 20, higherIsBetter: false },
      },
      {
        key: "rollingUpgradeS",
        label: "rolling upgrade of all 5 nodes (one at a time, health checked between)",
        value: rollingUpgradeS,
        unit: "s",
      },
      { key: "destroyS", label: "destroy the cluster", value: destroyS, unit: "s" },
    ];
    printFigures("cluster", figures);
    return { createToHealthyS, rollingUpgradeS, destroyS };
  } finally {
    await cli("cluster", "destroy", "--name", name);
    await rm(home.dir, { recursive: true, force: true });
  }
}
