// `npm run bench -- peers [--json] [--runs N] [--only N,…]`: Plinth beside the tools people use instead, both
// sides run in turn in every run on this machine, medians of N runs and ratios measured side by
// side (absolute figures drift on a shared machine; ratios of neighbouring runs hold better).
// A comparison whose peer is missing or whose run fails is reported as FAILED, its keys are left
// out of the JSON and the process exits with 1: no ratio against nothing.
import { cpus, loadavg } from "node:os";
import type { BenchOptions } from "../harness.ts";
import {
  type Comparison,
  jsonFigures,
  type Outcome,
  parsePeersArgs,
  renderTable,
  summarize,
} from "./summary.ts";

/** The comparisons, by their number in the table, in the order they run. */
const comparisons: readonly (readonly [number, () => Promise<Comparison>])[] = [
  [1, async () => (await import("./converge-vs-ansible.ts")).convergeVsAnsible],
  [2, async () => (await import("./cluster-vs-etcd.ts")).clusterVsEtcd],
  [3, async () => (await import("./mesh-vs-nebula.ts")).meshVsNebula],
  [4, async () => (await import("./api-vs-grpc-js.ts")).apiVsGrpcJs],
  [5, async () => (await import("./store-vs-sqlite.ts")).storeVsSqlite],
];

/** Runs one comparison `runs` times; a failure of either side becomes its outcome, never a figure. */
export async function measure(
  load: () => Promise<Comparison>,
  runs: number,
  index: number,
): Promise<Outcome> {
  let comparison: Comparison | undefined;
  try {
    comparison = await load();
    const values = new Map<string, number[]>(comparison.figures.map((f) => [f.key, []]));
    for (let run = 1; run <= runs; run++) {
      process.stderr.write(`bench peers: ${index}. ${comparison.title}, run ${run} of ${runs}\n`);
      const figures = await comparison.run();
      for (const f of comparison.figures) {
        const v = figures[f.key];
        if (v === undefined) throw new Error(`the run did not measure ${f.key}`);
        values.get(f.key)!.push(v);
      }
    }
    return {
      title: `${index}. ${comparison.title}`,
      notes: comparison.notes,
      summaries: comparison.figures.map((f) => summarize(f, values.get(f.key)!)),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench peers: comparison ${index} failed: ${message}\n`);
    return { title: `${index}. ${comparison?.title ?? "(not loaded)"}`, notes: [], error: message };
  }
}

export async function peersBench(options: BenchOptions): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) {
    throw new Error("bench peers needs root: the sides run in network namespaces and sandboxes");
  }
  const { runs, only } = parsePeersArgs(options.args, 5);
  const outcomes: Outcome[] = [];
  const loadBefore = loadavg();
  for (const [n, load] of comparisons) {
    if (!only || only.includes(n)) outcomes.push(await measure(load, runs, n));
  }
  const loadAfter = loadavg();
  process.stdout.write(
    `\npeers: Plinth beside the tools people use instead (${cpus().length} CPUs, load average ` +
      `${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after)\n` +
      `${renderTable(outcomes, runs)}\n`,
  );
  const failed = outcomes.filter((o) => "error" in o);
  if (failed.length > 0) {
    process.stderr.write(
      `bench peers: ${failed.length} comparison(s) failed, their keys are not reported: ${failed
        .map((o) => o.title)
        .join("; ")}\n`,
    );
    process.exitCode = 1;
  }
  return jsonFigures(outcomes);
}
