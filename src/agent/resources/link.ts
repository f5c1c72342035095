import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const linkSpecTypes = ["physical", "dummy", "bridge", "vlan", "veth", "bond"] as const;

/** A link the config asks for; id = the link name. */
export const LinkSpec = defineResource({
  type: "LinkSpec",
  namespace: "network",
  aliases: ["linkspecs"],
  printColumns: [
    { name: "Type", path: "type" },
    { name: "Up", path: "up" },
    { name: "MTU", path: "mtu" },
  ],
  schema: z.strictObject({
    name: z.string(),
    type: z.enum(linkSpecTypes),
    up: z.boolean(),
    mtu: z.number().int().optional(),
    vlan: z.strictObject({ parent: z.string(), id: z.number().int() }).optional(),
    bridge: z.strictObject({ ports: z.array(z.string()) }).optional(),
    veth: z.strictObject({ peer: z.string() }).optional(),
    bond: z
      .strictObject({ mode: z.string(), miimon: z.number().int(), ports: z.array(z.string()) })
      .optional(),
  }),
});

/** A link as netlink reports it (`ip -json -details link`), one per link on the machine. */
export const LinkStatus = defineResource({
  type: "LinkStatus",
  namespace: "network",
  aliases: ["link", "links", "linkstatuses"],
  printColumns: [
    { name: "Kind", path: "kind" },
    { name: "Up", path: "up" },
    { name: "State", path: "operState" },
    { name: "MTU", path: "mtu" },
    { name: "Master", path: "master" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    /** False for a link a spec names that does not exist. */
    present: z.boolean(),
    index: z.number().int().optional(),
    /** `bridge`, `veth`, `vlan`, … (netlink's info_kind), else the link type (`ether`, `loopback`). */
    kind: z.string().optional(),
    up: z.boolean().optional(),
    operState: z.string().optional(),
    mtu: z.number().int().optional(),
    hardwareAddr: z.string().optional(),
    master: z.string().optional(),
    /** A LinkSpec names the link. */
    managed: z.boolean(),
    /** Plinth created the link: it is deleted with its spec. */
    createdByPlinth: z.boolean(),
    /** Ports Plinth put into this bridge: released when they leave the spec. */
    ports: z.array(z.string()).optional(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});
