import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** A kernel parameter the config sets; id = the key in dot form (see `canonicalSysctlKey`). */
export const SysctlSpec = defineResource({
  type: "SysctlSpec",
  namespace: "runtime",
  aliases: ["sysctlspecs"],
  printColumns: [{ name: "Value", path: "value" }],
  schema: z.strictObject({ key: z.string(), value: z.string() }),
});

/** A kernel parameter as observed, with the value it had before Plinth first set it. */
export const SysctlStatus = defineResource({
  type: "SysctlStatus",
  namespace: "runtime",
  aliases: ["sysctl", "sysctls", "sysctlstatuses"],
  printColumns: [
    { name: "Value", path: "value" },
    { name: "Observed", path: "observed" },
    { name: "Original", path: "original" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    key: z.string(),
    /** The value the spec asks for. */
    value: z.string(),
    /** The value read back from the kernel; absent when the key does not exist. */
    observed: z.string().optional(),
    /** The value before Plinth first wrote the key; written back when the spec goes away. */
    original: z.string().optional(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});

/**
 * The dot form of a sysctl key, as sysctl(8) reads keys: when the first separator is `/`, dots are
 * part of names and become `/` in dot form (`net/ipv4/conf/eth0.100/rp_filter` →
 * `net.ipv4.conf.eth0/100.rp_filter`).
 */
export function canonicalSysctlKey(key: string): string {
  const slash = key.indexOf("/");
  const dot = key.indexOf(".");
  if (slash < 0 || (dot >= 0 && dot < slash)) return key;
  return key
    .split("/")
    .map((s) => s.replaceAll(".", "/"))
    .join(".");
}
