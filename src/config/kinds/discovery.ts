import { z } from "zod";
import { parseDuration } from "../duration.ts";
import { duration, url } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

/** The discovery service keeps records for at most 30 minutes. */
const maxTtlMs = 30 * 60 * 1000;

export const Discovery = defineKind({
  kind: "Discovery",
  description:
    "How the machine finds the other members of its cluster: an encrypted record at a discovery service, " +
    "refreshed before its TTL runs out.",
  fields: {
    enabled: z.boolean().default(true).describe("whether the agent publishes and watches"),
    endpoint: url().optional().describe("URL of the discovery service, e.g. https://10.5.0.1:3000"),
    ttl: duration().default("30m").describe("lifetime of the published record, at most 30m"),
  },
  check(doc, ctx) {
    if (doc.enabled && doc.endpoint === undefined)
      addIssue(ctx, ["endpoint"], "required when discovery is enabled");
    if ((parseDuration(doc.ttl) ?? 0) > maxTtlMs) addIssue(ctx, ["ttl"], `at most 30m, got ${doc.ttl}`);
  },
  example: `apiVersion: v1alpha1
kind: Discovery
enabled: true
endpoint: https://10.5.0.1:3000
`,
});
