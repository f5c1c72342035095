import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** A route the config asks for; id = the Route document's name. */
export const RouteSpec = defineResource({
  type: "RouteSpec",
  namespace: "network",
  aliases: ["routespecs"],
  printColumns: [
    { name: "Destination", path: "destination" },
    { name: "Gateway", path: "gateway" },
    { name: "Link", path: "link" },
    { name: "Metric", path: "metric" },
  ],
  schema: z.strictObject({
    destination: z.string(),
    gateway: z.string().optional(),
    link: z.string().optional(),
    metric: z.number().int().nonnegative(),
    family: z.union([z.literal(4), z.literal(6)]),
  }),
});

/** A configured route as netlink reports it (`ip -json route`, main table). */
export const RouteStatus = defineResource({
  type: "RouteStatus",
  namespace: "network",
  aliases: ["route", "routes", "routestatuses"],
  printColumns: [
    { name: "Destination", path: "destination" },
    { name: "Gateway", path: "gateway" },
    { name: "Device", path: "device" },
    { name: "Present", path: "present" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    destination: z.string(),
    gateway: z.string().optional(),
    /** The outgoing link the spec names. */
    link: z.string().optional(),
    metric: z.number().int().nonnegative(),
    family: z.union([z.literal(4), z.literal(6)]),
    present: z.boolean(),
    /** The outgoing link as observed. */
    device: z.string().optional(),
    protocol: z.string().optional(),
    /** Plinth added it: it is deleted with its spec. */
    createdByPlinth: z.boolean(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});
