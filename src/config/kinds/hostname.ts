import { z } from "zod";
import { dnsName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const Hostname = defineKind({
  kind: "Hostname",
  description:
    "The machine's hostname: a static `hostname`, or `auto: stable` for a name derived from the machine id " +
    "that stays the same across restarts. Exactly one of the two.",
  fields: {
    hostname: dnsName().optional().describe("a static hostname (RFC 1123)"),
    auto: z.enum(["stable"]).optional().describe("`stable`: derive the name from the machine id"),
  },
  check(doc, ctx) {
    if ((doc.hostname === undefined) === (doc.auto === undefined)) {
      addIssue(ctx, [], "set exactly one of 'hostname' and 'auto'");
    }
  },
  example: `apiVersion: v1alpha1
kind: Hostname
hostname: node-1          # or \`auto: stable\` instead of hostname
`,
});
