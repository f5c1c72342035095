// Cluster benchmark (root): `plinth cluster create` of 3 control planes + 2 workers until
// `plinth health` passes, then `plinth cluster destroy`, each timed as a user runs them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../src/testing/cli.ts";
import { type BenchOptions, type Figure, printFigures, round } from "./harness.ts";

export async function clusterBench(_options: BenchOptions): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0)
    throw new Error("the cluster benchmark needs root (network namespaces and a bridge)");
  const home = await mkdtemp(join(tmpdir(), "plinth-bench-cluster-"));
  const env = { PLINTH_CLUSTERS_DIR: join(home, "clusters") };
  const cli = (...args: string[]) =>
    runCli(["--plinthconfig", join(home, "client"), ...args], { env, timeoutMs: 300_000 });
  const name = "bench";
  try {
    const t0 = performance.now();
    const created = await cli(
      "cluster",
      "create",
      "--name",
      name,
      "--controlplanes",
      "3",
      "--workers",
      "2",
      "--cidr",
      "10.240.0.0/24",
    );
    if (created.code !== 0) throw new Error(`cluster create failed:\n${created.stdout}${created.stderr}`);
    const health = await cli("health", "--wait-timeout", "2m");
    if (health.code !== 0) throw new Error(`cluster never became healthy:\n${health.stdout}${health.stderr}`);
    const createToHealthyS = round((performance.now() - t0) / 1000, 2);
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
      { key: "destroyS", label: "destroy the cluster", value: destroyS, unit: "s" },
    ];
    printFigures("cluster (rolling upgrades are not built yet: no rollingUpgradeS)", figures);
    return { createToHealthyS, destroyS };
  } finally {
    await cli("cluster", "destroy", "--name", name);
    await rm(home, { recursive: true, force: true });
  }
}
