import { PlinthError } from "../errors/plinth-error.ts";
import type { SpecOf } from "../runtime/resource/definition.ts";
import type { State } from "../runtime/state/state.ts";
import {
  type ApplyModeName,
  type ConfigRecord,
  ConfigRevision,
  ConfigTrial,
  MachineConfigResource,
  machineConfigId,
  revisionId,
  StagedConfig,
} from "./resources/index.ts";

/** How many past configs `config history` keeps unless the agent is told otherwise. */
export const defaultHistoryLimit = 20;

export type StagedConfigSpec = SpecOf<typeof StagedConfig>;
export type ConfigTrialSpec = SpecOf<typeof ConfigTrial>;

export async function currentConfig(state: State): Promise<ConfigRecord | undefined> {
  return (await state.find(MachineConfigResource.ptr(machineConfigId)))?.spec;
}

export interface StoreConfigInput {
  readonly yaml: string;
  readonly complete: boolean;
  readonly mode: ApplyModeName;
  readonly appliedBy: string;
  readonly note?: string;
}

export interface StoreConfigOptions {
  /** Past configs kept in the history, at least 1; default `defaultHistoryLimit`. */
  readonly historyLimit?: number;
}

/**
 * Makes `yaml` the machine's config and records it in the history. Both writes are issued in one
 * turn of the event loop, so the durable state commits them in one transaction.
 */
export async function storeConfig(
  state: State,
  input: StoreConfigInput,
  options: StoreConfigOptions = {},
): Promise<ConfigRecord> {
  const limit = options.historyLimit ?? defaultHistoryLimit;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(
      `Cannot store config: 'historyLimit' must be an integer >= 1, current value is ${limit}`,
    );
  }
  const ptr = MachineConfigResource.ptr(machineConfigId);
  const current = await state.find(ptr);
  const record: ConfigRecord = {
    revision: (current?.spec.revision ?? 0) + 1,
    yaml: input.yaml,
    complete: input.complete,
    appliedAt: new Date().toISOString(),
    appliedBy: input.appliedBy,
    mode: input.mode,
    ...(input.note ? { note: input.note } : {}),
  };
  const writeHistory = state.create(ConfigRevision.make(revisionId(record.revision), record));
  const writeCurrent = current
    ? state.update({ metadata: current.metadata, spec: record })
    : state.create(MachineConfigResource.make(machineConfigId, record));
  await Promise.all([writeHistory, writeCurrent]);
  await pruneHistory(state, limit);
  return record;
}

async function pruneHistory(state: State, limit: number): Promise<void> {
  const all = await state.list(ConfigRevision.kind());
  for (const old of all.slice(0, Math.max(0, all.length - limit))) {
    await state.teardownAndDestroy(ConfigRevision.ptr(old.metadata.id));
  }
}

/** Past configs, newest first. */
export async function configHistory(state: State, limit = 0): Promise<ConfigRecord[]> {
  const all = (await state.list(ConfigRevision.kind())).map((r) => r.spec as ConfigRecord).reverse();
  return limit > 0 ? all.slice(0, limit) : all;
}

/** The config waiting for the next start of the agent, if any. */
export async function stagedConfig(state: State): Promise<StagedConfigSpec | undefined> {
  return (await state.find(StagedConfig.ptr(machineConfigId)))?.spec;
}

/** Stores `spec` as the config for the next start, replacing one staged before. */
export async function stageConfig(state: State, spec: StagedConfigSpec): Promise<void> {
  await state.upsert(
    StagedConfig.ptr(machineConfigId),
    (d) => {
      d.spec = spec;
    },
    { initial: () => spec },
  );
}

export async function discardStagedConfig(state: State): Promise<void> {
  if (await state.find(StagedConfig.ptr(machineConfigId))) {
    await state.teardownAndDestroy(StagedConfig.ptr(machineConfigId));
  }
}

/** The config being tried, if any. */
export async function configTrial(state: State): Promise<ConfigTrialSpec | undefined> {
  return (await state.find(ConfigTrial.ptr(machineConfigId)))?.spec;
}

export async function startConfigTrial(state: State, spec: ConfigTrialSpec): Promise<void> {
  await state.upsert(
    ConfigTrial.ptr(machineConfigId),
    (d) => {
      d.spec = spec;
    },
    { initial: () => spec },
  );
}

export async function endConfigTrial(state: State): Promise<void> {
  if (await state.find(ConfigTrial.ptr(machineConfigId))) {
    await state.teardownAndDestroy(ConfigTrial.ptr(machineConfigId));
  }
}

/** Forgets the config, its history and anything staged or tried (reset). */
export async function wipeConfig(state: State): Promise<void> {
  for (const kind of [
    MachineConfigResource.kind(),
    ConfigRevision.kind(),
    StagedConfig.kind(),
    ConfigTrial.kind(),
  ]) {
    for (const r of await state.list(kind)) {
      await state.teardownAndDestroy({ ...kind, id: r.metadata.id }).catch((err) => {
        throw new PlinthError("internal", `cannot wipe ${kind.type} ${r.metadata.id}`, { cause: err });
      });
    }
  }
}
