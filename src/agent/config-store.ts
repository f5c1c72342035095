import { PlinthError } from "../errors/plinth-error.ts";
import type { State } from "../runtime/state/state.ts";
import {
  type ApplyModeName,
  type ConfigRecord,
  ConfigRevision,
  MachineConfigResource,
  machineConfigId,
  revisionId,
} from "./resources/index.ts";

/** How many past configs `config history` keeps. */
export const historyLimit = 50;

export async function currentConfig(state: State): Promise<ConfigRecord | undefined> {
  return (await state.find(MachineConfigResource.ptr(machineConfigId)))?.spec;
}

export interface StoreConfigInput {
  readonly yaml: string;
  readonly complete: boolean;
  readonly mode: ApplyModeName;
  readonly appliedBy: string;
}

/**
 * Makes `yaml` the machine's config and records it in the history. Both writes are issued in one
 * turn of the event loop, so the durable state commits them in one transaction.
 */
export async function storeConfig(state: State, input: StoreConfigInput): Promise<ConfigRecord> {
  const ptr = MachineConfigResource.ptr(machineConfigId);
  const current = await state.find(ptr);
  const record: ConfigRecord = {
    revision: (current?.spec.revision ?? 0) + 1,
    yaml: input.yaml,
    complete: input.complete,
    appliedAt: new Date().toISOString(),
    appliedBy: input.appliedBy,
    mode: input.mode,
  };
  const writeHistory = state.create(ConfigRevision.make(revisionId(record.revision), record));
  const writeCurrent = current
    ? state.update({ metadata: current.metadata, spec: record })
    : state.create(MachineConfigResource.make(machineConfigId, record));
  await Promise.all([writeHistory, writeCurrent]);
  await pruneHistory(state);
  return record;
}

async function pruneHistory(state: State): Promise<void> {
  const all = await state.list(ConfigRevision.kind());
  for (const old of all.slice(0, Math.max(0, all.length - historyLimit))) {
    await state.teardownAndDestroy(ConfigRevision.ptr(old.metadata.id));
  }
}

/** Past configs, newest first. */
export async function configHistory(state: State, limit = 0): Promise<ConfigRecord[]> {
  const all = (await state.list(ConfigRevision.kind())).map((r) => r.spec as ConfigRecord).reverse();
  return limit > 0 ? all.slice(0, limit) : all;
}

/** Forgets the config and its history (reset). */
export async function wipeConfig(state: State): Promise<void> {
  for (const kind of [MachineConfigResource.kind(), ConfigRevision.kind()]) {
    for (const r of await state.list(kind)) {
      await state.teardownAndDestroy({ ...kind, id: r.metadata.id }).catch((err) => {
        throw new PlinthError("internal", `cannot wipe ${kind.type} ${r.metadata.id}`, { cause: err });
      });
    }
  }
}
