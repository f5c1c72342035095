import { z } from "zod";
import type { KindDefinition } from "../kind-definition.ts";
import { configKinds } from "../kinds/index.ts";

export type JsonSchema = Record<string, unknown>;

/** The JSON Schema of one kind, describing what a user may write (defaults are optional). */
export function kindJsonSchema(def: KindDefinition): JsonSchema {
  return z.toJSONSchema(def.schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

/** docs/schema/<Kind>.json for every kind: path relative to the repository → file content. */
export function renderSchemaFiles(): Map<string, string> {
  return new Map(
    configKinds.map((def) => [
      `docs/schema/${def.kind}.json`,
      `${JSON.stringify(kindJsonSchema(def as KindDefinition), null, 2)}\n`,
    ]),
  );
}
