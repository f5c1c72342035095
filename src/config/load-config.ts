import type { SemanticOptions } from "./checks/check-semantics.ts";
import { checkSemantics } from "./checks/check-semantics.ts";
import { type ConfigBundle, createConfigBundle } from "./config-bundle.ts";
import type { ConfigIssue } from "./config-issue.ts";
import { parseConfigText, type RawDocument } from "./parse-config-text.ts";
import { validateDocuments } from "./validate-documents.ts";

export type LoadConfigOptions = SemanticOptions;

export type LoadConfigResult =
  | {
      readonly ok: true;
      readonly bundle: ConfigBundle;
      /** The documents as written (no defaults filled in), for patching and printing. */
      readonly raw: readonly unknown[];
    }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/**
 * The whole pipeline on documents: schemas first, then (when every document passed) the
 * semantic checks. Pure; never throws for any input.
 */
export function validateRawDocuments(
  raw: readonly RawDocument[],
  options: LoadConfigOptions = {},
): LoadConfigResult {
  const validated = validateDocuments(raw);
  const issues =
    validated.issues.length > 0 ? validated.issues : checkSemantics(validated.documents, options);
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    bundle: createConfigBundle(validated.documents.map((d) => d.value)),
    raw: raw.map((d) => d.value),
  };
}

/** Parse → validate → semantic checks of a multi-document YAML text. */
export function loadConfig(text: string, options: LoadConfigOptions = {}): LoadConfigResult {
  const parsed = parseConfigText(text);
  if (parsed.issues.length === 0) return validateRawDocuments(parsed.documents, options);
  // Report the syntax errors together with the schema errors of the documents that did parse.
  const schemaIssues = validateDocuments(parsed.documents).issues;
  const issues = [...parsed.issues, ...schemaIssues].sort((a, b) => a.document - b.document);
  return { ok: false, issues };
}

/** Validates plain document values, e.g. the result of a patch (no line numbers). */
export function validateConfigValues(
  values: readonly unknown[],
  options: LoadConfigOptions = {},
): LoadConfigResult {
  return validateRawDocuments(
    values.map((value, i) => ({ document: i + 1, value })),
    options,
  );
}
