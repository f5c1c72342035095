import type { ControllerInput } from "../../../runtime/controller/controller.ts";
import type { Host } from "../../host/host.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/index.ts";
import { fingerprint } from "./fingerprint.ts";

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

/**
 * True when this wake came from a new config revision that left the controller's specs as they
 * were: the drift report was already reset by `openDriftLog`, and the host need not be read again
 * before the next periodic check. Other wakes (spec changes, periodic checks, explicit triggers)
 * keep the revision and answer false. One per controller instance.
 */
export function unrelatedConfigChange(): (revision: number, specs: unknown) => boolean {
  let last: { revision: number; specs: string } | undefined;
  return (revision, specs) => {
    const key = fingerprint(specs);
    const unrelated = last !== undefined && last.revision !== revision && last.specs === key;
    last = { revision, specs: key };
    return unrelated;
  };
}

export function requeue(options: OperatorOptions): { requeueAfterMs: number } {
  return { requeueAfterMs: options.driftCheckMs ?? defaultDriftCheckMs };
}

/** The first retry of an item the host refused, in ms; each further one waits twice as long. */
export const firstRefusedRetryMs = 250;

/**
 * The next wake of an operator whose reconcile may end with items the host refused (a route
 * whose link or address is not there yet). What they wait for is often on its way, and its
 * status need not change again to wake this controller (an address re-added with the same
 * status), so they are tried again soon, then less often, up to the periodic drift check; a
 * reconcile with nothing refused goes back to the periodic check. One per controller instance.
 */
export function retryRefused(options: OperatorOptions): (refused: number) => { requeueAfterMs: number } {
  let streak = 0;
  return (refused) => {
    const periodic = options.driftCheckMs ?? defaultDriftCheckMs;
    if (refused === 0) {
      streak = 0;
      return { requeueAfterMs: periodic };
    }
    const delay = Math.min(periodic, firstRefusedRetryMs * 2 ** streak);
    if (delay < periodic) streak++;
    return { requeueAfterMs: delay };
  };
}
