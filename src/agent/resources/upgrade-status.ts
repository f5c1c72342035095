import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** The latest agent upgrade of this node (`plinth get upgradestatus`), mirrored from the install dir. */
export const UpgradeStatus = defineResource({
  type: "UpgradeStatus",
  namespace: "runtime",
  aliases: ["upgradestatuses", "upgrade"],
  printColumns: [
    { name: "From", path: "fromVersion" },
    { name: "To", path: "toVersion" },
    { name: "State", path: "state" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    /** Identifies the upgrade: the reply to Upgrade names it. */
    upgradeId: z.string(),
    fromVersion: z.string(),
    toVersion: z.string(),
    /** "" for the code the agent was started from. */
    fromSlot: z.string(),
    toSlot: z.string(),
    /** staged: waits for the next reboot; trying: the new agent runs and must become healthy. */
    state: z.enum(["staged", "trying", "done", "rolled_back"]),
    /** Why it was rolled back; "" otherwise. */
    error: z.string(),
    /** The latest health check of the new agent that did not pass. */
    lastCheck: z.string(),
    requestedAt: z.string(),
    finishedAt: z.string(),
  }),
});

export const upgradeStatusId = "agent";
