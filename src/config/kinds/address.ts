import { z } from "zod";
import { ipPrefix, linkName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";
import { formatIp, hasHostBits, lastAddressOf, parsePrefix, sameAddress } from "../net/ip.ts";

export const Address = defineKind({
  kind: "Address",
  description:
    "Addresses assigned to one link, as address/prefix-length. Repeatable, one document per link, named by " +
    "the link.",
  repeatable: true,
  fields: {
    name: linkName().describe("the link the addresses are assigned to"),
    addresses: z.array(ipPrefix()).min(1).describe("addresses with their prefix length, e.g. 10.5.0.2/24"),
  },
  check(doc, ctx) {
    const seen = new Set<string>();
    doc.addresses.forEach((text, i) => {
      const prefix = parsePrefix(text);
      if (!prefix) return;
      const ip = formatIp(prefix.address);
      if (seen.has(ip)) addIssue(ctx, ["addresses", i], `duplicate address ${ip}`);
      seen.add(ip);
      // An IPv4 address must be a host of its prefix: not the network or the broadcast address.
      if (prefix.address.family === 4 && prefix.prefixLength < 31) {
        if (!hasHostBits(prefix)) {
          addIssue(ctx, ["addresses", i], `${text} is the network address of its prefix, not a host address`);
        } else if (sameAddress(lastAddressOf(prefix), prefix.address)) {
          addIssue(
            ctx,
            ["addresses", i],
            `${text} is the broadcast address of its prefix, not a host address`,
          );
        }
      }
    });
  },
  example: `apiVersion: v1alpha1
kind: Address
name: eth0
addresses: [10.5.0.2/24, fd00:5::2/64]
`,
});
