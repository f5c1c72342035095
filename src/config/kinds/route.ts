import { z } from "zod";
import { ipAddress, ipPrefix, linkName, objectName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";
import { formatPrefix, hasHostBits, networkOf, parseIp, parsePrefix } from "../net/ip.ts";

export const Route = defineKind({
  kind: "Route",
  description:
    "A route: a destination prefix through a gateway and/or out of a link. Repeatable, told apart by `name`.",
  repeatable: true,
  fields: {
    name: objectName().describe("a name for this route, e.g. default"),
    destination: ipPrefix()
      .default("0.0.0.0/0")
      .describe("the destination prefix; 0.0.0.0/0 or ::/0 for default"),
    gateway: ipAddress().optional().describe("the next hop"),
    link: linkName().optional().describe("the outgoing link"),
    metric: z.number().int().min(0).max(4294967295).default(1024).describe("route priority, lower wins"),
  },
  check(doc, ctx) {
    if (doc.gateway === undefined && doc.link === undefined) {
      addIssue(ctx, [], "set 'gateway', 'link' or both");
    }
    const destination = parsePrefix(doc.destination);
    if (!destination) return;
    if (hasHostBits(destination)) {
      const network = formatPrefix({
        address: networkOf(destination),
        prefixLength: destination.prefixLength,
      });
      addIssue(ctx, ["destination"], `${doc.destination} has host bits set; the network is ${network}`);
    }
    const gateway = doc.gateway === undefined ? undefined : parseIp(doc.gateway);
    if (gateway && gateway.family !== destination.address.family) {
      addIssue(
        ctx,
        ["gateway"],
        `IPv${gateway.family} gateway for an IPv${destination.address.family} destination`,
      );
    }
  },
  example: `apiVersion: v1alpha1
kind: Route
name: default
destination: 0.0.0.0/0
gateway: 10.5.0.1
link: eth0
`,
});
