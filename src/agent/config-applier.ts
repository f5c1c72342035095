import type { Logger } from "pino";
import type { ValidationMode } from "../config/checks/check-context.ts";
import type { ConfigBundle } from "../config/config-bundle.ts";
import { configError } from "../config/config-issue.ts";
import { formatDuration } from "../config/duration.ts";
import { loadConfig } from "../config/load-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import type { Controller } from "../runtime/controller/controller.ts";
import type { State } from "../runtime/state/state.ts";
import {
  type ConfigTrialSpec,
  configHistory,
  configTrial,
  currentConfig,
  discardStagedConfig,
  endConfigTrial,
  stageConfig,
  stagedConfig,
  startConfigTrial,
  storeConfig,
} from "./config-store.ts";
import { parsedConfig, rememberParsedConfig } from "./parsed-config.ts";
import type { ConfigRecord } from "./resources/index.ts";
import { changedRestartFields } from "./restart-fields.ts";
import { previewSpecChanges, type ResourceChange } from "./spec-preview.ts";

export type ApplyModeRequested = "auto" | "no_reboot" | "staged" | "try";

export interface ApplyRequest {
  readonly yaml: string;
  readonly mode: ApplyModeRequested;
  readonly dryRun: boolean;
  /** Who applies it (the client certificate's subject), for the history. */
  readonly appliedBy: string;
  /** Mode try: how long until the config is rolled back unless confirmed; default 1 minute. */
  readonly tryTimeoutMs?: number;
}

export interface ApplyResult {
  /** What happened (or would, for a dry run): reboot = applied, and the agent restarts. */
  readonly mode: "no_reboot" | "reboot" | "staged" | "try";
  readonly details: string;
  readonly diff: string;
  readonly warnings: readonly string[];
  /** The stored record; absent for a dry run and a staged config. */
  readonly record?: ConfigRecord;
  readonly bundle: ConfigBundle;
  /** For a dry run: the spec resources the config would create, update or destroy. */
  readonly resourceChanges: readonly ResourceChange[];
  /** Changed fields that need a restart of the agent (see restart-fields.ts). */
  readonly restartFields: readonly string[];
}

export interface RollbackRequest {
  /** The history version to apply again; 0 for the one before the current config. */
  readonly version: number;
  readonly dryRun: boolean;
  readonly appliedBy: string;
}

export interface ConfigApplier {
  apply(request: ApplyRequest): Promise<ApplyResult>;
  /** Keeps the config being tried; failed_precondition when none is. */
  confirm(): Promise<{ revision: number; details: string }>;
  /** Applies an earlier config of the history again, as mode auto. */
  rollback(request: RollbackRequest): Promise<ApplyResult>;
  /**
   * At the start of the agent, before its controllers run: a staged config takes effect, and a
   * config being tried resumes its countdown, or is rolled back at once when its time is up.
   */
  resume(): Promise<void>;
  /** Stops the countdown of a try (the agent stops; `resume` picks it up at the next start). */
  close(): void;
}

export interface ConfigApplierOptions {
  readonly state: State;
  readonly mode: ValidationMode;
  /** Past configs kept; default 20. */
  readonly historyLimit?: number;
  /** Fresh instances of the config controllers: dry runs list the resources they would change. */
  readonly previewControllers?: () => Controller[];
  /** Checked before an apply that restarts the agent (the etcd quorum guard); returns warnings. */
  readonly beforeRestart?: () => Promise<string[]>;
  /** A config was stored and is in effect: restart the agent, or serve it live. */
  readonly onStored?: (record: ConfigRecord, effects: { readonly restart: boolean }) => void;
  readonly log?: Logger;
}

export const defaultTryTimeoutMs = 60_000;

const hasMachineAndCluster = (b: ConfigBundle) => !!b.find("MachineConfig") && !!b.find("ClusterConfig");
const fieldList = (fields: readonly string[]) => fields.join(", ");

/**
 * Validates, stores and schedules configs, one operation at a time. A machine in maintenance
 * mode accepts a partial config; once it has a complete one (MachineConfig and ClusterConfig),
 * every later config must be complete too. Nothing is stored unless the whole config is valid.
 *
 * Modes: auto applies live and restarts the agent when a restart field changed; no_reboot
 * refuses such a change; staged keeps the config for the next start; try applies live and
 * applies the previous config again unless confirmed (ConfirmConfiguration, or any later apply)
 * before its timeout.
 */
export function createConfigApplier(options: ConfigApplierOptions): ConfigApplier {
  const { state } = options;
  let running = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  /** Runs `fn` after the operations before it; a user's call is refused while one is under way. */
  function exclusive<T>(fn: () => Promise<T>, o: { wait: boolean }): Promise<T> {
    if (running > 0 && !o.wait) {
      return Promise.reject(
        new PlinthError(
          "failed_precondition",
          "another config operation (apply, confirm or rollback) is in progress on this machine; try again when it is done",
        ),
      );
    }
    running++;
    const next = queue.then(fn).finally(() => running--);
    queue = next.catch(() => {});
    return next;
  }

  function arm(trial: ConfigTrialSpec): void {
    clearTimeout(timer);
    if (closed) return;
    const wait = Math.max(0, Date.parse(trial.deadline) - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      exclusive(() => rollBackTrial(trial, true), { wait: true }).catch((err) =>
        options.log?.error({ err, revision: trial.revision }, "cannot roll back the config being tried"),
      );
    }, wait);
    timer.unref?.();
  }

  async function rollBackTrial(trial: ConfigTrialSpec, live: boolean): Promise<void> {
    const pending = await configTrial(state);
    if (pending?.revision !== trial.revision) return;
    await endConfigTrial(state);
    const current = await currentConfig(state);
    if (current?.revision !== trial.revision) return;
    const note =
      `rolled back to version ${trial.previous.revision}: the try of version ${trial.revision} ` +
      `was not confirmed within ${formatDuration(trial.timeoutMs)}`;
    const record = await storeConfig(
      state,
      {
        yaml: trial.previous.yaml,
        complete: trial.previous.complete,
        mode: "auto",
        appliedBy: "agent (try not confirmed)",
        note,
      },
      { historyLimit: options.historyLimit },
    );
    options.log?.warn({ revision: record.revision, tried: trial.revision }, note);
    if (live) options.onStored?.(record, { restart: false });
  }

  async function applyNow(req: ApplyRequest, note?: string): Promise<ApplyResult> {
    const current = await currentConfig(state);
    const result = loadConfig(req.yaml, { mode: options.mode, partial: !current?.complete });
    if (!result.ok) throw configError(result.issues, "config");
    const bundle = result.bundle;
    const complete = hasMachineAndCluster(bundle);
    const trust = bundle.find("MachineConfig")?.trust;
    if (complete && trust && !trust.certificate && !trust.ca.key) {
      throw new PlinthError(
        "failed_precondition",
        "config: MachineConfig.trust needs 'certificate' (this machine's API certificate and key) or the CA key: " +
          "getting a certificate from a control plane with the bootstrap token is not supported yet",
      );
    }
    const restartFields =
      current?.complete && complete
        ? changedRestartFields(parsedConfig(current.yaml, options.mode), bundle)
        : [];
    const tryTimeoutMs = checkMode(req, current, restartFields);
    const yaml = req.yaml.endsWith("\n") ? req.yaml : `${req.yaml}\n`;
    // Loaded at the first apply rather than with the agent: a freshly started agent needs no diff.
    const { createTwoFilesPatch } = await import("diff");
    const diff = createTwoFilesPatch("current", "new", current?.yaml ?? "", yaml, undefined, undefined, {
      context: 3,
    });
    const warnings = complete ? [] : ["the config is partial: the machine stays in maintenance mode"];
    const outcome: ApplyResult["mode"] =
      req.mode === "staged" || req.mode === "try"
        ? req.mode
        : restartFields.length > 0
          ? "reboot"
          : "no_reboot";
    const base = { mode: outcome, diff, warnings, bundle, restartFields, resourceChanges: [] };

    if (req.dryRun) {
      const candidate: ConfigRecord = {
        revision: (current?.revision ?? 0) + 1,
        yaml: req.yaml,
        complete,
        appliedAt: new Date().toISOString(),
        appliedBy: req.appliedBy,
        mode: req.mode,
      };
      const controllers = options.previewControllers?.() ?? [];
      const resourceChanges = await previewSpecChanges(state, candidate, { controllers });
      return { ...base, details: `dry run: nothing was changed; ${dryRunOutcome(outcome)}`, resourceChanges };
    }

    if (outcome === "reboot") warnings.push(...((await options.beforeRestart?.()) ?? []));
    const trial = await configTrial(state);
    if (trial) {
      await endConfigTrial(state);
      clearTimeout(timer);
      warnings.push(`the config being tried (version ${trial.revision}) is kept: a later apply confirms it`);
    }
    if (req.mode === "staged") {
      await stageConfig(state, {
        yaml: req.yaml,
        complete,
        stagedAt: new Date().toISOString(),
        stagedBy: req.appliedBy,
      });
      const details = "config staged: it takes effect at the next start of the agent (plinth reboot)";
      return { ...base, details };
    }
    const staged = await stagedConfig(state);
    if (staged) {
      await discardStagedConfig(state);
      warnings.push(`the config staged at ${staged.stagedAt} by ${staged.stagedBy} was discarded`);
    }
    rememberParsedConfig(req.yaml, options.mode, bundle);
    const record = await storeConfig(
      state,
      { yaml: req.yaml, complete, mode: req.mode, appliedBy: req.appliedBy, ...(note ? { note } : {}) },
      { historyLimit: options.historyLimit },
    );
    let details = `config version ${record.revision} applied without a restart`;
    if (complete && !current?.complete) {
      details = `config version ${record.revision} applied; the machine leaves maintenance mode (mTLS only from now on)`;
    } else if (outcome === "reboot") {
      details = `config version ${record.revision} applied; the agent restarts for ${fieldList(restartFields)}`;
    } else if (outcome === "try" && current) {
      const spec: ConfigTrialSpec = {
        revision: record.revision,
        deadline: new Date(Date.now() + tryTimeoutMs).toISOString(),
        timeoutMs: tryTimeoutMs,
        previous: current,
      };
      await startConfigTrial(state, spec);
      arm(spec);
      details =
        `config version ${record.revision} applied for a try: version ${current.revision} comes back in ` +
        `${formatDuration(tryTimeoutMs)} unless confirmed (plinth apply-config --confirm)`;
    }
    options.onStored?.(record, { restart: outcome === "reboot" });
    return { ...base, details, record };
  }

  function checkMode(
    req: ApplyRequest,
    current: ConfigRecord | undefined,
    restartFields: readonly string[],
  ): number {
    const needsRestart = `changing ${fieldList(restartFields)} needs a restart of the agent`;
    if (req.mode === "no_reboot" && restartFields.length > 0) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot apply config with mode no-reboot: ${needsRestart}; apply with mode auto (restarts it now) or staged (at its next start)`,
      );
    }
    if ((req.mode === "staged" || req.mode === "try") && !current?.complete) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot apply config with mode ${req.mode}: the machine has no complete config yet (maintenance mode); apply with mode auto`,
      );
    }
    if (req.mode !== "try") return 0;
    if (restartFields.length > 0) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot apply config with mode try: a try applies changes live only, and ${needsRestart}; apply with mode auto or staged`,
      );
    }
    const ms = req.tryTimeoutMs ?? defaultTryTimeoutMs;
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new PlinthError(
        "invalid_argument",
        `Cannot apply config with mode try: 'try_timeout' must be > 0, current value is ${ms}ms`,
      );
    }
    return ms;
  }

  async function rollbackNow(req: RollbackRequest): Promise<ApplyResult> {
    const current = await currentConfig(state);
    if (!current)
      throw new PlinthError("failed_precondition", "Cannot roll back: this machine has no config");
    const history = await configHistory(state);
    const target =
      req.version > 0
        ? history.find((r) => r.revision === req.version)
        : history.find((r) => r.revision < current.revision);
    if (!target) {
      const kept =
        history.length > 0 ? `versions ${history.at(-1)?.revision}–${history[0]?.revision}` : "none";
      throw new PlinthError(
        "not_found",
        req.version > 0
          ? `Cannot roll back: config version ${req.version} is not in the history of this machine (kept: ${kept})`
          : `Cannot roll back: the history holds no config before the current version ${current.revision}`,
      );
    }
    if (target.revision === current.revision) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot roll back: config version ${target.revision} is the current config`,
      );
    }
    return applyNow(
      { yaml: target.yaml, mode: "auto", dryRun: req.dryRun, appliedBy: req.appliedBy },
      `rollback to version ${target.revision}`,
    );
  }

  return {
    apply: (req) => exclusive(() => applyNow(req), { wait: false }),
    rollback: (req) => exclusive(() => rollbackNow(req), { wait: false }),
    confirm: () =>
      exclusive(
        async () => {
          const trial = await configTrial(state);
          if (!trial) {
            throw new PlinthError(
              "failed_precondition",
              "Cannot confirm: no config is being tried on this machine (apply-config --mode try starts a try)",
            );
          }
          await endConfigTrial(state);
          clearTimeout(timer);
          return { revision: trial.revision, details: `config version ${trial.revision} is kept` };
        },
        { wait: false },
      ),
    resume: () =>
      exclusive(
        async () => {
          const staged = await stagedConfig(state);
          if (staged) {
            if ((await currentConfig(state))?.yaml !== staged.yaml) {
              await storeConfig(
                state,
                {
                  yaml: staged.yaml,
                  complete: staged.complete,
                  mode: "staged",
                  appliedBy: staged.stagedBy,
                  note: `staged at ${staged.stagedAt}; in effect from this start of the agent`,
                },
                { historyLimit: options.historyLimit },
              );
            }
            await discardStagedConfig(state);
          }
          const trial = await configTrial(state);
          if (!trial) return;
          if (Date.parse(trial.deadline) <= Date.now()) await rollBackTrial(trial, false);
          else arm(trial);
        },
        { wait: true },
      ),
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

function dryRunOutcome(mode: ApplyResult["mode"]): string {
  switch (mode) {
    case "reboot":
      return "applying it would restart the agent";
    case "staged":
      return "it would take effect at the next start of the agent";
    case "try":
      return "it would be applied for a try";
    default:
      return "it would be applied without a restart";
  }
}
