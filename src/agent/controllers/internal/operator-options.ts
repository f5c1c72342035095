import type { ControllerInput } from "../../../runtime/controller/controller.ts";
import type { Host } from "../../host/host.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/index.ts";

export interface OperatorOptions {
  /** Every host effect goes through it. */
  readonly host: Host;
  /** How often the controller re-reads what it owns and repairs drift; default 5 s. */
  readonly driftCheckMs?: number;
  /** The clock for drift reports. */
  readonly now?: () => Date;
  /** Where the file controller keeps the content of files it overwrote; default /var/lib/plinth/file-backups. */
  readonly fileBackupDir?: string;
}

export const defaultDriftCheckMs = 5000;

/**
 * Operator controllers read the applied config's revision: drift is reported "since the last
 * apply", and a new apply starts a fresh report.
 */
export const configRevisionInput: ControllerInput = {
  namespace: "config",
  type: MachineConfigResource.type,
  id: machineConfigId,
  kind: "weak",
};

export function requeue(options: OperatorOptions): { requeueAfterMs: number } {
  return { requeueAfterMs: options.driftCheckMs ?? defaultDriftCheckMs };
}
