import { z } from "zod";
import { dnsName, ipAddress } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const StaticHosts = defineKind({
  kind: "StaticHosts",
  description: "Entries for /etc/hosts.",
  fields: {
    hosts: z
      .array(
        z.strictObject({
          ip: ipAddress().describe("the address"),
          aliases: z.array(dnsName()).min(1).describe("names that resolve to it"),
        }),
      )
      .describe("one entry per address"),
  },
  listKeys: { hosts: "ip" },
  check(doc, ctx) {
    const seen = new Set<string>();
    doc.hosts.forEach((h, i) => {
      if (seen.has(h.ip))
        addIssue(ctx, ["hosts", i, "ip"], `duplicate entry for ${h.ip}; list its aliases once`);
      seen.add(h.ip);
    });
  },
  example: `apiVersion: v1alpha1
kind: StaticHosts
hosts:
  - ip: 10.5.0.2
    aliases: [cp-1, cp-1.demo.local]
`,
});
