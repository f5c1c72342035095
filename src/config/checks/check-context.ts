import type { ConfigIssue, IssuePath } from "../config-issue.ts";
import type { DocumentOf, KindName } from "../kinds/index.ts";
import type { ValidatedDocument } from "../validate-documents.ts";

/** Where the agent runs; decides which documents may change what. See docs/config.md. */
export const validationModes = ["host", "netns", "local"] as const;
export type ValidationMode = (typeof validationModes)[number];

export interface Located<K extends KindName> {
  readonly document: number;
  readonly value: DocumentOf<K>;
}

/** What a semantic check sees of a config, and how it reports. */
export interface CheckContext {
  readonly documents: readonly ValidatedDocument[];
  readonly mode: ValidationMode;
  readonly partial: boolean;
  all<K extends KindName>(kind: K): Located<K>[];
  find<K extends KindName>(kind: K): Located<K> | undefined;
  report(at: ValidatedDocument | undefined, path: IssuePath, message: string): void;
}

export type SemanticCheck = (ctx: CheckContext) => void;

export function createCheckContext(
  documents: readonly ValidatedDocument[],
  options: { mode: ValidationMode; partial: boolean },
  issues: ConfigIssue[],
): CheckContext {
  const ctx: CheckContext = {
    documents,
    mode: options.mode,
    partial: options.partial,
    all: <K extends KindName>(kind: K) => documents.filter((d) => d.value.kind === kind) as Located<K>[],
    find: (kind) => ctx.all(kind)[0],
    report(at, path, message) {
      issues.push(
        at ? { document: at.document, kind: at.value.kind, path, message } : { document: 0, path, message },
      );
    },
  };
  return ctx;
}
