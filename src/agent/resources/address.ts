import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** One address the config assigns to a link; id = `idFromText("<link>/<address>/<length>")`. */
export const AddressSpec = defineResource({
  type: "AddressSpec",
  namespace: "network",
  aliases: ["addressspecs"],
  printColumns: [
    { name: "Link", path: "link" },
    { name: "Address", path: "address" },
  ],
  schema: z.strictObject({
    link: z.string(),
    /** address/prefix-length, canonical text. */
    address: z.string(),
    family: z.union([z.literal(4), z.literal(6)]),
  }),
});

/** An address on a link as netlink reports it (`ip -json address`), one per address on the machine. */
export const AddressStatus = defineResource({
  type: "AddressStatus",
  namespace: "network",
  aliases: ["address", "addresses", "addressstatuses"],
  printColumns: [
    { name: "Link", path: "link" },
    { name: "Address", path: "address" },
    { name: "Scope", path: "scope" },
    { name: "Managed", path: "managed" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    link: z.string(),
    address: z.string(),
    family: z.union([z.literal(4), z.literal(6)]),
    /** False for a spec'd address that could not be assigned. */
    present: z.boolean(),
    scope: z.string().optional(),
    managed: z.boolean(),
    /** Plinth assigned it: it is removed with its spec. */
    createdByPlinth: z.boolean(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});

export const nodeAddressIds = ["current", "managed", "default"] as const;

/**
 * The machine's addresses by kind, for consumers that need "my address": `current` every
 * global-scope address, `managed` those the config assigned, `default` the first IPv4 and IPv6
 * address of `managed` (or of `current` when the config assigns none).
 */
export const NodeAddress = defineResource({
  type: "NodeAddress",
  namespace: "network",
  aliases: ["nodeaddresses"],
  printColumns: [{ name: "Addresses", path: "addresses" }],
  schema: z.strictObject({ addresses: z.array(z.string()) }),
});
