import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const applyModes = ["auto", "no_reboot", "staged", "try", "startup"] as const;
export type ApplyModeName = (typeof applyModes)[number];

const configRecord = z.strictObject({
  /** Increases with every applied config. */
  revision: z.number().int().positive(),
  /** The config documents as applied, multi-document YAML. */
  yaml: z.string(),
  /** Has MachineConfig and ClusterConfig: the machine leaves maintenance mode. */
  complete: z.boolean(),
  appliedAt: z.string(),
  appliedBy: z.string(),
  mode: z.enum(applyModes),
  /** Why it was applied when not by a user's apply: a rollback, a staged config taking effect. */
  note: z.string().optional(),
});

export type ConfigRecord = z.infer<typeof configRecord>;

/** The machine's current config. Holds keys and secrets: sensitive. */
export const MachineConfigResource = defineResource({
  type: "MachineConfig",
  namespace: "config",
  aliases: ["mc", "machineconfigs"],
  sensitivity: "sensitive",
  printColumns: [
    { name: "Revision", path: "revision" },
    { name: "Complete", path: "complete" },
    { name: "Applied", path: "appliedAt" },
  ],
  schema: configRecord,
});

/** One past config of the machine (`plinth config history`), id = zero-padded revision. */
export const ConfigRevision = defineResource({
  type: "ConfigRevision",
  namespace: "config",
  aliases: ["configrevisions", "history"],
  sensitivity: "sensitive",
  printColumns: [
    { name: "Revision", path: "revision" },
    { name: "Mode", path: "mode" },
    { name: "Applied", path: "appliedAt" },
    { name: "By", path: "appliedBy" },
  ],
  schema: configRecord,
});

/** A config applied with mode staged: it takes effect when the agent next starts. */
export const StagedConfig = defineResource({
  type: "StagedConfig",
  namespace: "config",
  aliases: ["staged", "stagedconfigs"],
  sensitivity: "sensitive",
  printColumns: [
    { name: "Staged", path: "stagedAt" },
    { name: "By", path: "stagedBy" },
  ],
  schema: z.strictObject({
    yaml: z.string(),
    complete: z.boolean(),
    stagedAt: z.string(),
    stagedBy: z.string(),
  }),
});

/**
 * The config being tried (mode try): unless confirmed by `deadline`, the agent applies
 * `previous` again. Kept apart from the history, which may prune `previous`, and durable, so a
 * restart of the agent during the try still ends in a rollback.
 */
export const ConfigTrial = defineResource({
  type: "ConfigTrial",
  namespace: "config",
  aliases: ["trial", "configtrials"],
  sensitivity: "sensitive",
  printColumns: [
    { name: "Revision", path: "revision" },
    { name: "Deadline", path: "deadline" },
    { name: "Previous", path: "previous.revision" },
  ],
  schema: z.strictObject({
    /** The revision being tried. */
    revision: z.number().int().positive(),
    /** ISO 8601 time of the rollback. */
    deadline: z.string(),
    timeoutMs: z.number().int().positive(),
    previous: configRecord,
  }),
});

export const machineConfigId = "v1alpha1";

export function revisionId(revision: number): string {
  return String(revision).padStart(10, "0");
}
