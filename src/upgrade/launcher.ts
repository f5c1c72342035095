import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleEntry } from "./bundle.ts";
import {
  installDirOf,
  readCurrent,
  readUpgradeRecord,
  rollBack,
  type SlotName,
  setCurrent,
  slotDir,
  slotManifest,
  type UpgradeRecord,
  writeUpgradeRecord,
} from "./slots.ts";

/**
 * Set once a launcher chose the code of this process: a slot's own `plinth agent` then runs
 * itself instead of choosing again. Its value is the slot ("a", "b"), or "" for the code the
 * agent was started from.
 */
export const slotEnv = "PLINTH_AGENT_SLOT";

/** Exit code of an agent that wants its init to start it again (from the slot now current). */
export const restartExitCode = 75;

export interface LaunchChoice {
  /** Run the agent from this slot; undefined: from this process's own code. */
  readonly slot?: SlotName;
  /** The upgrade whose new agent starts now: its time to become healthy runs from here. */
  readonly trial?: UpgradeRecord;
  /** What the launcher did, for the log. */
  readonly notes: readonly string[];
}

/**
 * What `plinth agent` runs, decided at start (a boot loader's job): a staged upgrade is switched
 * to and tried; an upgrade tried before whose agent did not confirm it (it died, or the machine
 * went down) is rolled back; otherwise the slot `current` points at, if any.
 */
export async function chooseAgentCode(stateDir: string): Promise<LaunchChoice> {
  if (process.env[slotEnv] !== undefined) return { notes: [] };
  const installDir = installDirOf(stateDir);
  const notes: string[] = [];
  let record = await readUpgradeRecord(installDir);
  let trial: UpgradeRecord | undefined;
  if (record?.state === "staged") {
    await setCurrent(installDir, record.to.slot);
    record = { ...record, state: "trying", attempts: 0 };
    notes.push(`switched to slot ${record.to.slot} (${record.to.version})`);
  }
  if (record?.state === "trying") {
    if (record.attempts >= 1) {
      const why = `the agent ${record.to.version} stopped before it became healthy${record.lastCheck ? ` (last check: ${record.lastCheck})` : ""}`;
      await rollBack(installDir, record, why);
      notes.push(`rolled back to ${record.from.version}: ${why}`);
    } else {
      record = { ...record, attempts: record.attempts + 1, startedAt: new Date().toISOString() };
      await writeUpgradeRecord(installDir, record);
      trial = record;
      notes.push(`trying ${record.to.version} from slot ${record.to.slot} for ${record.timeoutMs / 1000} s`);
    }
  }
  const slot = await readCurrent(installDir);
  return { ...(slot ? { slot } : {}), ...(trial ? { trial } : {}), notes };
}

/**
 * Rolls the trial back when its agent has not confirmed it within its time, then stops the
 * agent (SIGTERM) so that its init starts the old one; `onRolledBack` learns of it first.
 */
export function armTrialDeadline(
  stateDir: string,
  trial: UpgradeRecord,
  onRolledBack: (record: UpgradeRecord) => void,
  /** How the agent is stopped; default SIGTERM to this process, exit if it does not stop. */
  stop: () => void = stopThisProcess,
): NodeJS.Timeout {
  const installDir = installDirOf(stateDir);
  const timer = setTimeout(async () => {
    const now = await readUpgradeRecord(installDir).catch(() => undefined);
    if (now?.id !== trial.id || now.state !== "trying") return;
    const why = `the agent ${trial.to.version} was not healthy within ${trial.timeoutMs / 1000} s${now.lastCheck ? `: ${now.lastCheck}` : ""}`;
    const rolled = await rollBack(installDir, now, why);
    onRolledBack(rolled);
    stop();
  }, trial.timeoutMs);
  timer.unref();
  return timer;
}

function stopThisProcess(): void {
  process.kill(process.pid, "SIGTERM");
  // An agent that does not stop by itself is not waited for.
  setTimeout(() => process.exit(restartExitCode), 20_000).unref();
}

/** Runs `plinth` from `slot` in this process: its own bin/plinth.js, with this process's arguments. */
export async function runSlot(stateDir: string, slot: SlotName): Promise<void> {
  const installDir = installDirOf(stateDir);
  const manifest = await slotManifest(installDir, slot);
  const entry = join(slotDir(installDir, slot), ...(manifest?.entry ?? bundleEntry).split("/"));
  process.env[slotEnv] = slot;
  await import(pathToFileURL(entry).href);
}
