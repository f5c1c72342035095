import type { z } from "zod";
import { type ConfigIssue, showValue } from "./config-issue.ts";

type RawIssue = z.core.$ZodRawIssue;

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (value instanceof Uint8Array) return "binary";
  if (typeof value === "object") return "mapping";
  return typeof value;
}

function expectedType(expected: string): string {
  return expected === "object" ? "a mapping" : expected === "array" ? "a list" : expected;
}

function bound(
  issue: RawIssue & { origin?: string; inclusive?: boolean },
  limit: unknown,
  more: boolean,
): string {
  const n = String(limit);
  switch (issue.origin) {
    case "array":
      return `expected ${more ? "at least" : "at most"} ${n} item${n === "1" ? "" : "s"}`;
    case "string":
      return `expected ${more ? "at least" : "at most"} ${n} character${n === "1" ? "" : "s"}`;
    default:
      return `expected a number ${more ? ">" : "<"}${issue.inclusive === false ? "" : "="} ${n}`;
  }
}

/**
 * The message for a built-in zod issue: what was expected and what was found. Schema-given
 * messages (refinements, transforms) win over this map.
 */
export function describeZodIssue(issue: RawIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return `required, expected ${expectedType(String(issue.expected))}`;
      return `expected ${expectedType(String(issue.expected))}, got ${typeName(input)} ${showValue(input)}`;
    case "invalid_value": {
      const values = (issue.values as unknown[]).map((v) => JSON.stringify(v));
      const want = values.length === 1 ? values[0] : `one of ${values.join(", ")}`;
      return `expected ${want}, got ${showValue(input)}`;
    }
    case "too_small":
      return `${bound(issue, issue.minimum, true)}, got ${showValue(input)}`;
    case "too_big":
      return `${bound(issue, issue.maximum, false)}, got ${showValue(input)}`;
    case "invalid_format":
      return `expected ${String(issue.format)} format, got ${showValue(input)}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(issue.divisor)}, got ${showValue(input)}`;
    case "invalid_union":
      return `does not match any allowed form, got ${showValue(input)}`;
    default:
      return `invalid value ${showValue(input)}`;
  }
}

function isScalar(value: unknown): boolean {
  return value !== undefined && (value === null || typeof value !== "object");
}

/** Turns zod issues into config issues of one document; unknown keys become one issue per key. */
export function toConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  location: { document: number; kind?: string },
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ ...location, path: [...path, key], message: "unknown field" });
    } else if (issue.code === "invalid_key") {
      const key = path[path.length - 1];
      const why = issue.issues.map((i) => i.message).join("; ");
      out.push({ ...location, path, message: `invalid key ${showValue(key)}: ${why}` });
    } else if (issue.code === "invalid_element") {
      out.push({ ...location, path, message: issue.issues.map((i) => i.message).join("; ") });
    } else {
      const input = (issue as { input?: unknown }).input;
      // Checks across fields report on a whole mapping; only a single written value is worth echoing.
      const echo = isScalar(input) && !issue.message.includes(", got ");
      const value = echo ? `, got ${showValue(input)}` : "";
      out.push({ ...location, path, message: `${issue.message}${value}` });
    }
  }
  return out;
}
