import { PlinthError } from "../../errors/plinth-error.ts";
import { compareNames } from "./compare-names.ts";
import type { ResourceDefinition } from "./definition.ts";

/** Known resource types, looked up by type name or alias (case-insensitive). */
export interface ResourceRegistry {
  register(...defs: ResourceDefinition<unknown>[]): void;
  /** Throws not_found naming the type when unknown. */
  resolve(nameOrAlias: string): ResourceDefinition;
  find(nameOrAlias: string): ResourceDefinition | undefined;
  list(): ResourceDefinition[];
}

export function createRegistry(defs: readonly ResourceDefinition<unknown>[] = []): ResourceRegistry {
  const byType = new Map<string, ResourceDefinition>();
  const byName = new Map<string, ResourceDefinition>();

  const registry: ResourceRegistry = {
    register(...more) {
      for (const d of more) {
        if (byType.has(d.type)) {
          throw new PlinthError("already_exists", `resource type ${d.type} is already registered`);
        }
        for (const name of [d.type, ...d.aliases]) {
          const other = byName.get(name.toLowerCase());
          if (other) {
            throw new PlinthError(
              "already_exists",
              `cannot register ${d.type}: name '${name}' is already used by ${other.type}`,
            );
          }
        }
        byType.set(d.type, d);
        for (const name of [d.type, ...d.aliases]) byName.set(name.toLowerCase(), d);
      }
    },
    find: (name) => byType.get(name) ?? byName.get(name.toLowerCase()),
    resolve(name) {
      const d = registry.find(name);
      if (!d) throw new PlinthError("not_found", `unknown resource type '${name}' (see 'plinth get rd')`);
      return d;
    },
    list: () => [...byType.values()].sort((a, b) => compareNames(a.type, b.type)),
  };
  registry.register(...defs);
  return registry;
}
