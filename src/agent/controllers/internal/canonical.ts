import type { ResourceDefinition } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";

/**
 * The resource with its spec as the state stores it: parsed by the type's schema, so keys come
 * in schema order. Writes skip unchanged content by comparing JSON, so a status rebuilt in
 * another key order would otherwise be written, and wake its readers, on every reconcile.
 */
export function canonical<S>(def: ResourceDefinition<S>, id: string, spec: S): Resource<S> {
  return def.make(id, def.schema.parse(spec));
}
