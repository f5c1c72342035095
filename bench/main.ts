// `npm run bench -- [name …] [--json]`: runs the named benchmarks (all by default), prints a
// table per benchmark and, with --json, one JSON object with every figure on the last line.
import type { BenchOptions } from "./harness.ts";

type Bench = (options: BenchOptions) => Promise<Record<string, number>>;

const benches: Record<string, () => Promise<Bench>> = {
  agent: async () => (await import("./agent.ts")).agentBench,
  apply: async () => (await import("./apply.ts")).applyBench,
  balancer: async () => (await import("./balancer.ts")).balancerBench,
  cluster: async () => (await import("./cluster.ts")).clusterBench,
  runtime: async () => (await import("./runtime.ts")).runtimeBench,
  discovery: async () => (await import("./discovery.ts")).discoveryBench,
};

const args = process.argv.slice(2);
const json = args.includes("--json");
const names = args.filter((a) => !a.startsWith("-"));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(benches).join(", ")}\n`,
  );
  process.exit(2);
}
const results: Record<string, number> = {};
for (const name of names.length > 0 ? names : Object.keys(benches)) {
  const bench = await benches[name]!();
  Object.assign(results, await bench({ json, args }));
}
if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
