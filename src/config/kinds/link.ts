import { z } from "zod";
import { linkName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const linkTypes = ["physical", "dummy", "bridge", "vlan"] as const;

export const Link = defineKind({
  kind: "Link",
  description:
    "A network link, by its Linux name. `physical` configures a link that exists; `dummy`, `bridge` and " +
    "`vlan` links are created. Repeatable, one document per link.",
  repeatable: true,
  fields: {
    name: linkName().describe("the link's name, e.g. eth0"),
    type: z.enum(linkTypes).default("physical").describe("physical | dummy | bridge | vlan"),
    up: z.boolean().default(true).describe("whether the link is set up"),
    mtu: z.number().int().min(68).max(65535).optional().describe("MTU in bytes"),
    vlan: z
      .strictObject({
        parent: linkName().describe("the link the VLAN rides on"),
        id: z.number().int().min(1).max(4094).describe("VLAN id"),
      })
      .optional()
      .describe("required for type vlan"),
    bridge: z
      .strictObject({
        ports: z.array(linkName()).default([]).describe("links enslaved to the bridge"),
      })
      .optional()
      .describe("only for type bridge"),
  },
  check(doc, ctx) {
    if (doc.type === "vlan" && !doc.vlan) addIssue(ctx, ["vlan"], "required for a link of type vlan");
    if (doc.type !== "vlan" && doc.vlan)
      addIssue(ctx, ["vlan"], `only allowed for type vlan, not ${doc.type}`);
    if (doc.type !== "bridge" && doc.bridge) {
      addIssue(ctx, ["bridge"], `only allowed for type bridge, not ${doc.type}`);
    }
    if (doc.vlan?.parent === doc.name) addIssue(ctx, ["vlan", "parent"], "a VLAN cannot ride on itself");
  },
  example: `apiVersion: v1alpha1
kind: Link
name: eth0.100
type: vlan
mtu: 1500
vlan:
  parent: eth0
  id: 100
`,
});
