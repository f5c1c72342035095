import { z } from "zod";
import { defineResource, type ResourceDefinition } from "../../runtime/resource/definition.ts";

/** Every resource type the machine serves, so clients can list and resolve them (`get rd`). */
export const ResourceDefinitionResource = defineResource({
  type: "ResourceDefinition",
  namespace: "meta",
  aliases: ["rd", "rds", "resourcedefinitions"],
  printColumns: [
    { name: "Default-Namespace", path: "defaultNamespace" },
    { name: "Aliases", path: "aliases" },
    { name: "Sensitivity", path: "sensitivity" },
  ],
  schema: z.strictObject({
    type: z.string(),
    defaultNamespace: z.string(),
    aliases: z.array(z.string()),
    sensitivity: z.enum(["public", "sensitive", "private"]),
    printColumns: z.array(z.strictObject({ name: z.string(), path: z.string() })),
  }),
});

export function describeDefinition(def: ResourceDefinition) {
  return ResourceDefinitionResource.make(def.type, {
    type: def.type,
    defaultNamespace: def.namespace,
    aliases: [...def.aliases],
    sensitivity: def.sensitivity,
    printColumns: def.printColumns.map((c) => ({ name: c.name, path: c.path })),
  });
}
