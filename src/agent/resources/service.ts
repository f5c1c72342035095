import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** A service the config asks for, as the service controller runs it. */
export const ServiceSpec = defineResource({
  type: "ServiceSpec",
  namespace: "runtime",
  aliases: ["servicespecs"],
  printColumns: [
    { name: "Command", path: "command" },
    { name: "Restart", path: "restart" },
  ],
  schema: z.strictObject({
    command: z.string(),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    workingDir: z.string().optional(),
    restart: z.enum(["always", "on-failure", "never"]),
    dependsOn: z.array(z.string()),
    health: z
      .strictObject({
        exec: z.array(z.string()).optional(),
        tcp: z.string().optional(),
        intervalMs: z.number().int().positive(),
        timeoutMs: z.number().int().positive(),
      })
      .optional(),
  }),
});

/** What a supervised service is doing, observed by the service controller. */
export const ServiceStatusResource = defineResource({
  type: "ServiceStatus",
  namespace: "runtime",
  aliases: ["service", "services", "svc"],
  printColumns: [
    { name: "State", path: "state" },
    { name: "Healthy", path: "healthy" },
    { name: "Restarts", path: "restarts" },
    { name: "Message", path: "message" },
  ],
  schema: z.strictObject({
    state: z.string(),
    healthy: z.boolean().optional(),
    pid: z.number().int().optional(),
    restarts: z.number().int().nonnegative(),
    message: z.string(),
    lastExitCode: z.number().int().nullable().optional(),
  }),
});
