import { type ConfigIssue, formatIssue } from "../config/config-issue.ts";
import { isPlinthError } from "../errors/plinth-error.ts";
import type { CliIo } from "./cli-io.ts";

/** Prints one line per issue on stderr and returns the exit code 1. */
export function printIssues(io: CliIo, issues: readonly ConfigIssue[], source: string): number {
  for (const issue of issues) io.err(`${formatIssue(issue, source)}\n`);
  return 1;
}

/** Config errors print line by line, without a prefix, so each line keeps the validate format. */
export function printConfigError(io: CliIo, err: unknown): number | undefined {
  if (isPlinthError(err) && Array.isArray(err.details.issues) && typeof err.details.source === "string") {
    return printIssues(io, err.details.issues as ConfigIssue[], err.details.source);
  }
  return undefined;
}
