import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const diagnosticSeverities = ["warning", "error"] as const;

/**
 * Something wrong with this machine that no controller can repair by itself (an address used
 * twice, a clock off, a service crash-looping, too little memory or disk). One per problem,
 * written by the controller that found it and removed once the problem is gone; `plinth health`
 * fails while any node has one.
 */
export const Diagnostic = defineResource({
  type: "Diagnostic",
  namespace: "runtime",
  aliases: ["diagnostics", "diag"],
  printColumns: [
    { name: "Severity", path: "severity" },
    { name: "Message", path: "message" },
  ],
  schema: z.strictObject({
    severity: z.enum(diagnosticSeverities),
    /** One line: what is wrong. */
    message: z.string(),
    /** The evidence, one fact a line. */
    details: z.array(z.string()),
  }),
});

export const systemResourcesId = "system";

/** What the machine has left, sampled every few seconds: free memory, free disk of the state dir. */
export const SystemResources = defineResource({
  type: "SystemResources",
  namespace: "runtime",
  aliases: ["systemresources", "sysres"],
  printColumns: [
    { name: "Memory free", path: "memoryAvailableBytes" },
    { name: "Disk free", path: "diskAvailableBytes" },
    { name: "Disk path", path: "diskPath" },
  ],
  schema: z.strictObject({
    /** MemAvailable of /proc/meminfo: what new work can use without swapping. */
    memoryAvailableBytes: z.number().nonnegative(),
    memoryTotalBytes: z.number().nonnegative(),
    /** Free space for unprivileged writers on the file system holding `diskPath`. */
    diskAvailableBytes: z.number().nonnegative(),
    diskTotalBytes: z.number().nonnegative(),
    /** The agent's state dir. */
    diskPath: z.string(),
  }),
});
