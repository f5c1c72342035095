import { z } from "zod";
import { absolutePath, duration, objectName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const restartPolicies = ["always", "on-failure", "never"] as const;

export const Service = defineKind({
  kind: "Service",
  description:
    "An extra process the agent supervises: restarted with backoff by its restart policy, started after " +
    "the services it depends on. Repeatable, told apart by `name`.",
  repeatable: true,
  fields: {
    name: objectName().describe("the service's name"),
    command: absolutePath().describe("absolute path of the program"),
    args: z.array(z.string()).default([]).describe("arguments"),
    env: z
      .record(
        // A record key named __proto__ would be dropped while parsing; refuse it instead.
        z.string().regex(/^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$/, {
          message: "expected an environment variable name",
        }),
        z.string(),
      )
      .default({})
      .describe("environment variables"),
    workingDir: absolutePath().optional().describe("working directory"),
    restart: z.enum(restartPolicies).default("always").describe("always | on-failure | never"),
    dependsOn: z.array(objectName()).default([]).describe("services that must be running first"),
    healthCheck: z
      .strictObject({
        command: z.array(z.string()).min(1).optional().describe("a command that exits 0 when healthy"),
        tcp: z
          .string()
          .regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
            message: "expected host:port like 127.0.0.1:8080 or [::1]:8080",
          })
          .optional()
          .describe("an address that accepts TCP connections when healthy"),
        interval: duration().default("10s").describe("time between checks"),
        timeout: duration().default("1s").describe("time one check may take"),
      })
      .optional()
      .describe("how to tell the service is healthy; exactly one of command and tcp"),
  },
  check(doc, ctx) {
    const hc = doc.healthCheck;
    if (hc && (hc.command === undefined) === (hc.tcp === undefined)) {
      addIssue(ctx, ["healthCheck"], "set exactly one of 'command' and 'tcp'");
    }
    doc.dependsOn.forEach((d, i) => {
      if (d === doc.name) addIssue(ctx, ["dependsOn", i], "a service cannot depend on itself");
    });
  },
  example: `apiVersion: v1alpha1
kind: Service
name: web
command: /usr/bin/python3
args: [-m, http.server, "8080"]
env:
  PYTHONUNBUFFERED: "1"
restart: always
healthCheck:
  tcp: 127.0.0.1:8080
  interval: 5s
`,
});
