import { PlinthError } from "../../errors/plinth-error.ts";
import type { ResourceRegistry } from "../resource/registry.ts";
import type { Resource } from "../resource/resource.ts";
import { formatPointer } from "../resource/resource.ts";
import type { CoreState } from "./core-state.ts";

/**
 * Rejects writes of unknown types and specs that fail their schema, naming the resource and
 * the field. Stores the parsed spec, so schema defaults are filled in.
 */
export function withValidation(core: CoreState, registry: ResourceRegistry): CoreState {
  function validated<S>(res: Resource<S>): Resource<S> {
    const type = res?.metadata?.type;
    const def = typeof type === "string" ? registry.find(type) : undefined;
    if (!def || def.type !== type) {
      throw new PlinthError("invalid_argument", `unknown resource type ${JSON.stringify(type)}`);
    }
    const parsed = def.schema.safeParse(res.spec);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map(
          (i) =>
            `spec${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`,
        )
        .join("; ");
      throw new PlinthError(
        "invalid_argument",
        `invalid ${def.type} ${formatPointer(res.metadata)}: ${issues}`,
        {
          details: { issues: parsed.error.issues },
        },
      );
    }
    return { metadata: res.metadata, spec: parsed.data as S };
  }
  return {
    ...core,
    get: (p, o) => core.get(p, o),
    list: (k, o) => core.list(k, o),
    destroy: (p, o) => core.destroy(p, o),
    watch: (p, o) => core.watch(p, o),
    watchKind: (k, o) => core.watchKind(k, o),
    close: () => core.close(),
    create: async (r, o) => core.create(validated(r), o),
    update: async (r, o) => core.update(validated(r), o),
  };
}
