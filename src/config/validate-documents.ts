import type { ConfigIssue } from "./config-issue.ts";
import { showValue } from "./config-issue.ts";
import { type ConfigDocument, findKind, kindNames } from "./kinds/index.ts";
import type { RawDocument } from "./parse-config-text.ts";
import { describeZodIssue, toConfigIssues } from "./zod-issues.ts";

/** A document that passed its kind's schema, with its position in the file. */
export interface ValidatedDocument {
  readonly document: number;
  readonly value: ConfigDocument;
}

export interface ValidatedDocuments {
  readonly documents: ValidatedDocument[];
  readonly issues: ConfigIssue[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/**
 * Checks every document against the schema of its kind: unknown kinds, unknown fields, wrong
 * types, duplicate singletons and duplicate names of repeatable kinds are issues.
 */
export function validateDocuments(raw: readonly RawDocument[]): ValidatedDocuments {
  const documents: ValidatedDocument[] = [];
  const issues: ConfigIssue[] = [];
  const firstSeen = new Map<string, number>();
  for (const doc of raw) {
    const withLine = (issue: ConfigIssue): ConfigIssue => ({
      ...issue,
      line: issue.line ?? doc.lineOf?.(issue.path),
    });
    const kind = isPlainObject(doc.value) ? doc.value.kind : undefined;
    if (!isPlainObject(doc.value)) {
      issues.push(
        withLine({
          document: doc.document,
          path: [],
          message: `expected a mapping with apiVersion and kind, got ${showValue(doc.value)}`,
        }),
      );
      continue;
    }
    const def = typeof kind === "string" ? findKind(kind) : undefined;
    if (!def) {
      issues.push(
        withLine({
          document: doc.document,
          kind: typeof kind === "string" ? kind : undefined,
          path: ["kind"],
          message:
            kind === undefined
              ? `required, expected one of ${kindNames.join(", ")}`
              : `unknown kind ${showValue(kind)}, expected one of ${kindNames.join(", ")}`,
        }),
      );
      continue;
    }
    const location = { document: doc.document, kind: def.kind };
    const result = def.schema.safeParse(doc.value, { reportInput: true, error: describeZodIssue });
    if (!result.success) {
      issues.push(...toConfigIssues(result.error.issues, location).map(withLine));
      continue;
    }
    const value = result.data as ConfigDocument;
    const name = def.repeatable ? (value as { name?: string }).name : undefined;
    const key = `${def.kind}\0${name ?? ""}`;
    const first = firstSeen.get(key);
    if (first !== undefined) {
      issues.push(
        withLine({
          ...location,
          path: def.repeatable ? ["name"] : ["kind"],
          message: def.repeatable
            ? `duplicate ${def.kind} named ${showValue(name)}, first in document ${first}`
            : `duplicate ${def.kind} document, first in document ${first}; ${def.kind} may appear once`,
        }),
      );
      continue;
    }
    firstSeen.set(key, doc.document);
    documents.push({ document: doc.document, value });
  }
  return { documents, issues };
}
