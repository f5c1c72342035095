import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/**
 * An item an operator controller owns whose observed state differed from its spec since the last
 * applied config: what was expected and found, when, and when it was repaired. id =
 * `<domain>:<item id>`, e.g. `sysctl:net.ipv4.ip_forward`. Entries are dropped when a new config is
 * applied.
 */
export const DriftStatus = defineResource({
  type: "DriftStatus",
  namespace: "runtime",
  aliases: ["drift", "drifts", "driftstatuses"],
  printColumns: [
    { name: "Item", path: "item" },
    { name: "Found", path: "found" },
    { name: "Expected", path: "expected" },
    { name: "Detected", path: "lastDetected" },
    { name: "Repaired", path: "repairedAt" },
    { name: "Count", path: "count" },
  ],
  schema: z.strictObject({
    /** The controller that owns the item and repaired it. */
    controller: z.string(),
    /** What drifted, in words: `sysctl net.ipv4.ip_forward`, `file /etc/motd`. */
    item: z.string(),
    expected: z.string(),
    /** What was found the last time the item differed. */
    found: z.string(),
    firstDetected: z.string(),
    lastDetected: z.string(),
    /** How often the item was found differing since the config was applied. */
    count: z.number().int().positive(),
    /** When the item last matched its spec again after `lastDetected`; absent while not repaired. */
    repairedAt: z.string().optional(),
    /** Why the last repair failed. */
    repairError: z.string().optional(),
    /** The config revision in effect; entries of older revisions are dropped. */
    configRevision: z.number().int().nonnegative(),
  }),
});
