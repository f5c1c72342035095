import type { ConfigIssue } from "../config-issue.ts";
import type { ValidatedDocument } from "../validate-documents.ts";
import { createCheckContext, type SemanticCheck, type ValidationMode } from "./check-context.ts";
import { checkCompleteness } from "./completeness.ts";
import { checkMesh } from "./mesh.ts";
import { checkMode } from "./mode.ts";
import { checkNetwork } from "./network.ts";
import { checkServices } from "./services.ts";
import { checkTrust } from "./trust.ts";

export interface SemanticOptions {
  /** Which host the config is for; `host` unless given. */
  readonly mode?: ValidationMode;
  /** Allow a config without MachineConfig/ClusterConfig, as maintenance mode does. */
  readonly partial?: boolean;
}

const checks: readonly SemanticCheck[] = [
  checkCompleteness,
  checkTrust,
  checkNetwork,
  checkServices,
  checkMesh,
  checkMode,
];

/** Rules across documents that schemas cannot say. Runs on documents that passed their schemas. */
export function checkSemantics(
  documents: readonly ValidatedDocument[],
  options: SemanticOptions = {},
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ctx = createCheckContext(
    documents,
    { mode: options.mode ?? "host", partial: options.partial ?? false },
    issues,
  );
  for (const check of checks) check(ctx);
  return issues.sort((a, b) => a.document - b.document);
}
