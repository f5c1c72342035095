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

export const machineConfigId = "v1alpha1";

export function revisionId(revision: number): string {
  return String(revision).padStart(10, "0");
}
