import { z } from "zod";
import { dnsName, ipAddress } from "../fields.ts";
import { defineKind } from "../kind-definition.ts";

export const Resolvers = defineKind({
  kind: "Resolvers",
  description: "DNS resolvers and search domains, written to /etc/resolv.conf.",
  fields: {
    nameservers: z
      .array(ipAddress())
      .min(1)
      .max(3)
      .describe("name server addresses, in order; the C library uses at most 3"),
    searchDomains: z.array(dnsName()).max(6).default([]).describe("search domains, in order"),
  },
  example: `apiVersion: v1alpha1
kind: Resolvers
nameservers: [1.1.1.1, 2606:4700:4700::1111]
searchDomains: [example.com]
`,
});
