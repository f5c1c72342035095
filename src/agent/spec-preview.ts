import { isDeepStrictEqual } from "node:util";
import { pino } from "pino";
import type { Controller } from "../runtime/controller/controller.ts";
import { createControllerContext } from "../runtime/controller/controller-context.ts";
import { createRegistry } from "../runtime/resource/registry.ts";
import type { AnyResource } from "../runtime/resource/resource.ts";
import { createMemoryState } from "../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../runtime/state/state.ts";
import {
  agentResources,
  type ConfigRecord,
  MachineConfigResource,
  machineConfigId,
} from "./resources/index.ts";

export interface ResourceChange {
  readonly namespace: string;
  readonly type: string;
  readonly id: string;
  readonly action: "create" | "update" | "destroy";
}

const registry = createRegistry(agentResources);
const silent = pino({ level: "silent" });

/**
 * The spec resources that `candidate` would change: the config controllers (pure functions of
 * the config) run once on a throwaway in-memory state holding only the candidate, and their
 * outputs are compared with what the same controllers wrote into the live state. Nothing live
 * is written, and no operator controller sees the candidate.
 */
export async function previewSpecChanges(
  live: State,
  candidate: ConfigRecord,
  options: { readonly controllers: readonly Controller[]; readonly signal?: AbortSignal },
): Promise<ResourceChange[]> {
  const scratch = wrapCore(createMemoryState());
  const signal = options.signal ?? new AbortController().signal;
  try {
    await scratch.create(MachineConfigResource.make(machineConfigId, candidate));
    for (const c of options.controllers) {
      await c.reconcile(createControllerContext(c, scratch, { signal, log: silent }));
    }
    const owners = new Set(options.controllers.map((c) => c.name));
    const types = new Set(options.controllers.flatMap((c) => c.outputs.map((o) => o.type)));
    const changes: ResourceChange[] = [];
    for (const type of types) {
      const def = registry.resolve(type);
      const kind = { namespace: def.namespace, type };
      const byId = (list: AnyResource[]) =>
        new Map(
          list
            .filter((r) => owners.has(r.metadata.owner) && r.metadata.phase === "running")
            .map((r) => [r.metadata.id, r.spec]),
        );
      const before = byId(await live.list(kind, { signal }));
      const after = byId(await scratch.list(kind));
      for (const [id, spec] of after) {
        if (!before.has(id)) changes.push({ ...kind, id, action: "create" });
        else if (!isDeepStrictEqual(before.get(id), spec)) changes.push({ ...kind, id, action: "update" });
      }
      for (const id of before.keys()) if (!after.has(id)) changes.push({ ...kind, id, action: "destroy" });
    }
    return changes.sort((a, b) =>
      `${a.namespace}/${a.type}/${a.id}`.localeCompare(`${b.namespace}/${b.type}/${b.id}`),
    );
  } finally {
    await scratch.close();
  }
}
