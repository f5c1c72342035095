import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** One /etc/hosts entry from the StaticHosts document; id = the address. */
export const StaticHostSpec = defineResource({
  type: "StaticHostSpec",
  namespace: "network",
  aliases: ["statichostspecs", "statichosts"],
  printColumns: [
    { name: "IP", path: "ip" },
    { name: "Aliases", path: "aliases" },
  ],
  schema: z.strictObject({ ip: z.string(), aliases: z.array(z.string()) }),
});

export const resolverSpecId = "resolvers";

/** The DNS resolvers from the Resolvers document, for /etc/resolv.conf. */
export const ResolverSpec = defineResource({
  type: "ResolverSpec",
  namespace: "network",
  aliases: ["resolverspecs", "resolvers"],
  printColumns: [
    { name: "Nameservers", path: "nameservers" },
    { name: "Search", path: "searchDomains" },
  ],
  schema: z.strictObject({ nameservers: z.array(z.string()), searchDomains: z.array(z.string()) }),
});

export const etcHostsId = "hosts";
export const resolvConfId = "resolv.conf";

/**
 * A system file Plinth keeps a managed block in (/etc/hosts, /etc/resolv.conf): lines outside the
 * block belong to the user and are kept.
 */
export const EtcFileStatus = defineResource({
  type: "EtcFileStatus",
  namespace: "network",
  aliases: ["etcfiles", "etcfilestatuses"],
  printColumns: [
    { name: "Path", path: "path" },
    { name: "Entries", path: "entries" },
    { name: "SHA256", path: "sha256" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    path: z.string(),
    /** Lines in the managed block. */
    entries: z.number().int().nonnegative(),
    /** Of the whole file as last observed. */
    sha256: z.string().optional(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});
