import { JSONPath } from "jsonpath-plus";
import { stringify } from "yaml";
import type { AnyResource } from "../../runtime/resource/resource.ts";
import { renderTable } from "./table.ts";

export type OutputFormat =
  | { kind: "table" }
  | { kind: "yaml" }
  | { kind: "json" }
  | { kind: "jsonpath"; path: string };

/** Parses `-o table|yaml|json|jsonpath=EXPR` (EXPR as in kubectl, `{.spec.hostname}`, or `$.spec`). */
export function parseOutputFormat(value: string): OutputFormat {
  if (value === "table" || value === "yaml" || value === "json") return { kind: value };
  const m = value.match(/^jsonpath=(.+)$/s);
  if (m) return { kind: "jsonpath", path: m[1]! };
  throw new TypeError(`-o/--output must be table, yaml, json or jsonpath=EXPR, current value is '${value}'`);
}

export interface PrintableResource {
  readonly node?: string;
  readonly resource: AnyResource;
  /** For watch output: created | updated | destroyed. */
  readonly event?: string;
}

export interface ColumnSpec {
  readonly name: string;
  readonly path: string;
}

function at(value: unknown, path: string): unknown {
  let cur = value;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map(cell).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function asDocument(p: PrintableResource): Record<string, unknown> {
  return {
    ...(p.node ? { node: p.node } : {}),
    ...(p.event ? { event: p.event } : {}),
    metadata: p.resource.metadata,
    spec: p.resource.spec,
  };
}

function evaluateJsonPath(expr: string, doc: Record<string, unknown>): string {
  // kubectl style: literal text with {.path} expressions; plain JSONPath ($...) as is.
  if (expr.startsWith("$")) return cell(JSONPath({ path: expr, json: doc, wrap: false }));
  return expr.replace(/\{([^}]*)\}/g, (_, inner: string) =>
    cell(JSONPath({ path: `$${inner.trim()}`, json: doc, wrap: false })),
  );
}

export function renderResources(
  items: readonly PrintableResource[],
  format: OutputFormat,
  options: { columns?: readonly ColumnSpec[]; showNode: boolean; header?: boolean },
): string {
  switch (format.kind) {
    case "yaml":
      return items.map((p) => `---\n${stringify(asDocument(p))}`).join("");
    case "json":
      return items.map((p) => `${JSON.stringify(asDocument(p), null, 2)}\n`).join("");
    case "jsonpath":
      return items.map((p) => `${evaluateJsonPath(format.path, asDocument(p))}\n`).join("");
    case "table": {
      const columns = options.columns ?? [];
      const headers = [
        ...(items.some((p) => p.event) ? [""] : []),
        ...(options.showNode ? ["NODE"] : []),
        "NAMESPACE",
        "TYPE",
        "ID",
        "VERSION",
        ...columns.map((c) => c.name.toUpperCase()),
      ];
      const mark = { created: "+", updated: "*", destroyed: "-" } as Record<string, string>;
      const rows = items.map((p) => [
        ...(items.some((x) => x.event) ? [mark[p.event ?? ""] ?? " "] : []),
        ...(options.showNode ? [p.node ?? ""] : []),
        p.resource.metadata.namespace,
        p.resource.metadata.type,
        p.resource.metadata.id,
        String(p.resource.metadata.version),
        ...columns.map((c) => cell(at(p.resource.spec, c.path))),
      ]);
      const table = renderTable(headers, rows);
      return `${options.header === false ? table.split("\n").slice(1).join("\n") : table}\n`;
    }
  }
}
