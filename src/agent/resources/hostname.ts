import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const hostnameId = "hostname";

/** The hostname the config asks for: a static name, or `auto: stable` (derived from the machine id). */
export const HostnameSpec = defineResource({
  type: "HostnameSpec",
  namespace: "network",
  aliases: ["hostnamespecs"],
  printColumns: [
    { name: "Hostname", path: "hostname" },
    { name: "Auto", path: "auto" },
  ],
  schema: z.strictObject({
    hostname: z.string().optional(),
    auto: z.enum(["stable"]).optional(),
  }),
});

/** The machine's hostname as observed: the kernel's (UTS namespace) and /etc/hostname. */
export const HostnameStatus = defineResource({
  type: "HostnameStatus",
  namespace: "network",
  aliases: ["hostname", "hostnames", "hostnamestatuses"],
  printColumns: [
    { name: "Hostname", path: "hostname" },
    { name: "Managed", path: "managed" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    /** The kernel's hostname. */
    hostname: z.string(),
    /** The first line of /etc/hostname; absent when the file is missing. */
    etcHostname: z.string().optional(),
    /** True while a Hostname document sets the name. */
    managed: z.boolean(),
    /** The name the spec asks for (resolved for `auto: stable`). */
    desired: z.string().optional(),
    /** The kernel's hostname before Plinth first set it: set again when the document goes away. */
    original: z.string().optional(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});
