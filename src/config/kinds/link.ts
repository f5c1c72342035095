import { z } from "zod";
import { linkName } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const linkTypes = ["physical", "dummy", "bridge", "vlan", "veth", "bond"] as const;

export const bondModes = [
  "balance-rr",
  "active-backup",
  "balance-xor",
  "broadcast",
  "802.3ad",
  "balance-tlb",
  "balance-alb",
] as const;

export const Link = defineKind({
  kind: "Link",
  description:
    "A network link, by its Linux name. `physical` configures a link that exists; `dummy`, `bridge`, " +
    "`vlan`, `veth` (a pair) and `bond` links are created. Repeatable, one document per link.",
  repeatable: true,
  fields: {
    name: linkName().describe("the link's name, e.g. eth0"),
    type: z.enum(linkTypes).default("physical").describe("physical | dummy | bridge | vlan | veth | bond"),
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
    veth: z
      .strictObject({
        peer: linkName().describe("name of the other end, created with the link and deleted with it"),
      })
      .optional()
      .describe("required for type veth"),
    bond: z
      .strictObject({
        mode: z.enum(bondModes).default("active-backup").describe(bondModes.join(" | ")),
        miimon: z
          .number()
          .int()
          .min(0)
          .max(60_000)
          .default(100)
          .describe("link monitoring interval in milliseconds, 0 turns it off"),
        ports: z
          .array(linkName())
          .default([])
          .describe("links enslaved to the bond (set down while joining)"),
      })
      .optional()
      .describe("only for type bond"),
  },
  check(doc, ctx) {
    if (doc.type === "vlan" && !doc.vlan) addIssue(ctx, ["vlan"], "required for a link of type vlan");
    if (doc.type !== "vlan" && doc.vlan)
      addIssue(ctx, ["vlan"], `only allowed for type vlan, not ${doc.type}`);
    if (doc.type !== "bridge" && doc.bridge) {
      addIssue(ctx, ["bridge"], `only allowed for type bridge, not ${doc.type}`);
    }
    if (doc.type === "veth" && !doc.veth) addIssue(ctx, ["veth"], "required for a link of type veth");
    if (doc.type !== "veth" && doc.veth)
      addIssue(ctx, ["veth"], `only allowed for type veth, not ${doc.type}`);
    if (doc.veth?.peer === doc.name) addIssue(ctx, ["veth", "peer"], "a veth's peer needs a name of its own");
    if (doc.type !== "bond" && doc.bond)
      addIssue(ctx, ["bond"], `only allowed for type bond, not ${doc.type}`);
    if (doc.bond?.ports.includes(doc.name)) addIssue(ctx, ["bond", "ports"], "a bond cannot enslave itself");
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
