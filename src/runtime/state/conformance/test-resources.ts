import { z } from "zod";
import { defineResource } from "../../resource/definition.ts";

/** Resource types used by the conformance suite and runtime tests. */
export const TestSpec = defineResource({
  type: "TestSpec",
  namespace: "test",
  aliases: ["ts", "testspecs"],
  printColumns: [{ name: "Value", path: "value" }],
  schema: z.strictObject({ value: z.string(), count: z.number().int().default(0) }),
});

export const OtherSpec = defineResource({
  type: "OtherSpec",
  namespace: "test",
  schema: z.strictObject({ value: z.string(), count: z.number().int().default(0) }),
});
