import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const machineStages = ["maintenance", "running", "rebooting", "resetting", "stopping"] as const;
export type MachineStage = (typeof machineStages)[number];

/** What the machine is doing, for `plinth get machinestatus` and health checks. */
export const MachineStatus = defineResource({
  type: "MachineStatus",
  namespace: "runtime",
  aliases: ["machinestatuses", "ms"],
  printColumns: [
    { name: "Stage", path: "stage" },
    { name: "Config", path: "configRevision" },
  ],
  schema: z.strictObject({
    stage: z.enum(machineStages),
    /** Revision of the config in effect; 0 without one. */
    configRevision: z.number().int().nonnegative(),
    machineType: z.enum(["controlplane", "worker", "unknown"]),
    agentVersion: z.string(),
  }),
});

export const machineStatusId = "machine";
