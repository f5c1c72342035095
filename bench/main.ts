// `npm run bench -- [name …] [--json]`: runs the named benchmarks (all but peers by default), prints a
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
  mesh: async () => (await import("./mesh.ts")).meshBench,
  peers: async () => (await import("./peers/peers.ts")).peersBench,
};

const args = process.argv.slice(2);
const json = args.includes("--json");
// Flags that take a value (`--runs 3`): the value is not a benchmark name.
const valueFlags = new Set(["--runs", "--only"]);
const names = args.filter((a, i) => !a.startsWith("-") && !valueFlags.has(args[i - 1] ?? ""));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(benches).join(", ")}\n`,
  );
  process.exit(2);
}
const results: Record<string, number> = {};
// peers runs every comparison against other programs several times: only when named.
const defaults = Object.keys(benches).filter((n) => n !== "peers");
for (const name of names.length > 0 ? names : defaults) {
  const bench = await benches[name]!();
  Object.assign(results, await bench({ json, args }));
}
if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
