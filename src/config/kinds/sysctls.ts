import { z } from "zod";
import { defineKind } from "../kind-definition.ts";

/** Segments of letters, digits, `_`, `-`, `@`, `:` joined by `.` or `/` (as in `net/ipv4/ip_forward`). */
export const sysctlKeyPattern = /^[a-z0-9_]+(?:[./][A-Za-z0-9_@:-]+)+$/;

export const Sysctls = defineKind({
  kind: "Sysctls",
  description:
    "Kernel parameters, key to value. Values are strings; numbers are accepted and kept as strings.",
  fields: {
    sysctls: z
      .record(
        z.string().regex(sysctlKeyPattern, {
          message: "expected a sysctl key like net.ipv4.ip_forward (dot- or slash-separated segments)",
        }),
        z
          .unknown()
          .transform((v, ctx) => {
            if (
              (typeof v === "string" && v !== "" && !v.includes("\n")) ||
              (typeof v === "number" && Number.isFinite(v))
            ) {
              return String(v);
            }
            ctx.issues.push({
              code: "custom",
              message: "expected a non-empty one-line string or a number",
              input: v,
            });
            return z.NEVER;
          })
          .meta({ anyOf: [{ type: "string", minLength: 1 }, { type: "number" }] }),
      )
      .describe("sysctl key to value"),
  },
  example: `apiVersion: v1alpha1
kind: Sysctls
sysctls:
  net.ipv4.ip_forward: "1"
`,
});
