import { createTwoFilesPatch } from "diff";
import type { ValidationMode } from "../config/checks/check-context.ts";
import type { ConfigBundle } from "../config/config-bundle.ts";
import { configError } from "../config/config-issue.ts";
import { loadConfig } from "../config/load-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import type { State } from "../runtime/state/state.ts";
import { currentConfig, storeConfig } from "./config-store.ts";
import type { ApplyModeName, ConfigRecord } from "./resources/index.ts";

export interface ApplyRequest {
  readonly yaml: string;
  readonly mode: "auto" | "no_reboot" | "staged" | "try";
  readonly dryRun: boolean;
  /** Who applies it (the client certificate's subject), for the history. */
  readonly appliedBy: string;
}

export interface ApplyResult {
  readonly mode: "no_reboot";
  readonly details: string;
  readonly diff: string;
  readonly warnings: readonly string[];
  /** The stored record; absent for a dry run. */
  readonly record?: ConfigRecord;
  readonly bundle: ConfigBundle;
}

export interface ConfigApplier {
  apply(request: ApplyRequest): Promise<ApplyResult>;
}

const hasMachineAndCluster = (b: ConfigBundle) => !!b.find("MachineConfig") && !!b.find("ClusterConfig");

/**
 * Validates and stores configs, one at a time. A machine in maintenance mode accepts a partial
 * config; once it has a complete one (MachineConfig and ClusterConfig), every later config must
 * be complete too. Nothing is stored unless the whole config is valid.
 */
export function createConfigApplier(options: { state: State; mode: ValidationMode }): ConfigApplier {
  let busy = false;
  return {
    async apply(req) {
      if (busy) {
        throw new PlinthError(
          "failed_precondition",
          "another ApplyConfiguration is in progress on this machine; try again when it is done",
        );
      }
      busy = true;
      try {
        if (req.mode === "staged" || req.mode === "try") {
          throw new PlinthError(
            "unimplemented",
            `apply mode '${req.mode}' is not supported by this agent yet; use auto or no-reboot`,
          );
        }
        const current = await currentConfig(options.state);
        const partial = !current?.complete;
        const result = loadConfig(req.yaml, { mode: options.mode, partial });
        if (!result.ok) throw configError(result.issues, "config");
        const complete = hasMachineAndCluster(result.bundle);
        const trust = result.bundle.find("MachineConfig")?.trust;
        if (complete && trust && !trust.certificate && !trust.ca.key) {
          throw new PlinthError(
            "failed_precondition",
            "config: MachineConfig.trust needs 'certificate' (this machine's API certificate and key) or the CA key: " +
              "getting a certificate from a control plane with the bootstrap token is not supported yet",
          );
        }
        const diff = createTwoFilesPatch(
          "current",
          "new",
          current?.yaml ?? "",
          req.yaml.endsWith("\n") ? req.yaml : `${req.yaml}\n`,
          undefined,
          undefined,
          { context: 3 },
        );
        const warnings = complete ? [] : ["the config is partial: the machine stays in maintenance mode"];
        if (req.dryRun) {
          return {
            mode: "no_reboot",
            details: "dry run: nothing was changed",
            diff,
            warnings,
            bundle: result.bundle,
          };
        }
        const mode: ApplyModeName = req.mode;
        const record = await storeConfig(options.state, {
          yaml: req.yaml,
          complete,
          mode,
          appliedBy: req.appliedBy,
        });
        const details =
          complete && !current?.complete
            ? `config revision ${record.revision} applied; the machine leaves maintenance mode (mTLS only from now on)`
            : `config revision ${record.revision} applied without a reboot`;
        return { mode: "no_reboot", details, diff, warnings, record, bundle: result.bundle };
      } finally {
        busy = false;
      }
    },
  };
}
