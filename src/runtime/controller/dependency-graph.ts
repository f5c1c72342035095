import type { AnyController } from "./controller.ts";
import { inputsOf } from "./controller.ts";

export interface DependencyEdge {
  /** The controller that writes the type. */
  readonly from: string;
  /** The controller that reads it. */
  readonly to: string;
  readonly type: string;
  readonly kind: "strong" | "weak" | "destroyReady";
}

export interface DependencyGraph {
  readonly controllers: readonly string[];
  readonly edges: readonly DependencyEdge[];
  /** Controllers ordered producers first; controllers in a cycle keep registration order. */
  readonly order: readonly string[];
  toDot(): string;
}

/** Who feeds whom, derived from the declared inputs and outputs. */
export function dependencyGraph(controllers: readonly AnyController[]): DependencyGraph {
  const edges: DependencyEdge[] = [];
  for (const producer of controllers) {
    for (const out of producer.outputs) {
      for (const consumer of controllers) {
        for (const input of inputsOf(consumer)) {
          if (input.type === out.type && consumer !== producer) {
            edges.push({ from: producer.name, to: consumer.name, type: out.type, kind: input.kind });
          }
        }
      }
    }
  }
  const names = controllers.map((c) => c.name);
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const e of edges) indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  const order: string[] = [];
  const ready = names.filter((n) => indegree.get(n) === 0);
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const e of edges) {
      if (e.from !== n) continue;
      const d = (indegree.get(e.to) ?? 0) - 1;
      indegree.set(e.to, d);
      if (d === 0) ready.push(e.to);
    }
  }
  for (const n of names) if (!order.includes(n)) order.push(n);
  return {
    controllers: names,
    edges,
    order,
    toDot() {
      const lines = names.map((n) => `  "${n}";`);
      for (const e of edges) {
        const style = e.kind === "strong" ? "" : ` style=${e.kind === "weak" ? "dashed" : "dotted"}`;
        lines.push(`  "${e.from}" -> "${e.to}" [label="${e.type}"${style}];`);
      }
      return `digraph controllers {\n${lines.join("\n")}\n}\n`;
    },
  };
}
