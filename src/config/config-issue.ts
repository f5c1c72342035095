import { PlinthError } from "../errors/plinth-error.ts";

export type IssuePath = readonly (string | number)[];

/** One problem found in a config, located by document, kind, field path and (when known) line. */
export interface ConfigIssue {
  /** 1-based position of the document in its file or patch; 0 for the config as a whole. */
  readonly document: number;
  readonly kind?: string;
  readonly path: IssuePath;
  readonly message: string;
  readonly line?: number;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `files[0].mode`, `sysctls["net.ipv4.ip_forward"]`; the document itself is `(document)`. */
export function formatPath(path: IssuePath): string {
  if (path.length === 0) return "(document)";
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (identifier.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** A short rendering of a value a user wrote, for messages. */
export function showValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (value instanceof Uint8Array) return "binary data";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** `<source>: document <n> (<kind>): <path>: <message>`, plus ` (line N)` when the line is known. */
export function formatIssue(issue: ConfigIssue, source: string): string {
  const line = issue.line === undefined ? "" : ` (line ${issue.line})`;
  if (issue.document === 0) return `${source}: ${issue.message}${line}`;
  return `${source}: document ${issue.document} (${issue.kind ?? "?"}): ${formatPath(issue.path)}: ${issue.message}${line}`;
}

/** An invalid_argument PlinthError whose message lists every issue, one a line; `details.issues` holds them. */
export function configError(issues: readonly ConfigIssue[], source: string): PlinthError {
  return new PlinthError("invalid_argument", issues.map((i) => formatIssue(i, source)).join("\n"), {
    details: { issues, source },
  });
}
