import { randomUUID } from "node:crypto";
import { realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { PlinthError } from "../errors/plinth-error.ts";
import type { State } from "../runtime/state/state.ts";
import { checkDependencies, verifyBundle } from "../upgrade/bundle.ts";
import { slotEnv } from "../upgrade/launcher.ts";
import {
  installDirOf,
  installSlot,
  otherSlot,
  readCurrent,
  readUpgradeRecord,
  type SlotName,
  type UpgradeRecord,
  writeUpgradeRecord,
} from "../upgrade/slots.ts";
import { UpgradeStatus, upgradeStatusId } from "./resources/index.ts";

export interface UpgradeRequest {
  readonly bundle: Uint8Array;
  /** Install now, switch at the next reboot. */
  readonly stage: boolean;
  /** How long the new agent has to become healthy; default from the config. */
  readonly timeoutMs?: number;
  readonly force: boolean;
}

/** What installing needs from the agent. */
export interface InstallDeps {
  /** The etcd quorum guard for "upgrade"; returns warnings (a check skipped with force). */
  readonly guard: () => Promise<string[]>;
  readonly defaultTimeoutMs: number;
  readonly state: State;
  /** Whether this node's etcd member is healthy now: then the new agent's must be too. */
  readonly etcdHealthy: boolean;
}

export interface UpgradeAccepted {
  readonly upgradeId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly staged: boolean;
  readonly warnings: string[];
}

/** The slot this process's code runs from: set by the launcher; undefined for the code it was started from. */
export function runningSlot(): SlotName | undefined {
  const s = process.env[slotEnv];
  return s === "a" || s === "b" ? s : undefined;
}

/**
 * The node_modules this agent runs with (a slot's is a link to it): what a new slot links to.
 * Found beside this source file, or, when the agent runs from a bundled build kept elsewhere,
 * beside the `bin/plinth.js` the process was started with.
 */
async function ownNodeModules(): Promise<string> {
  const candidates = [fileURLToPath(new URL("../../node_modules", import.meta.url))];
  if (process.argv[1]) candidates.push(join(dirname(await realpath(process.argv[1])), "..", "node_modules"));
  for (const dir of candidates) {
    const real = await realpath(dir).catch(() => undefined);
    if (real && (await stat(join(real, "zod", "package.json")).catch(() => undefined))) return real;
  }
  throw new PlinthError(
    "failed_precondition",
    `Upgrade: cannot find the node_modules this agent runs with (looked at ${candidates.join(", ")})`,
  );
}

/**
 * The agent's side of upgrades: installs a verified bundle into the inactive slot and records
 * it for the launcher, mirrors the record into the `UpgradeStatus` resource, and (in the new
 * agent) confirms the upgrade once the machine is healthy.
 */
export function createAgentUpgrades(options: { stateDir: string; version: string; log: () => Logger }) {
  const installDir = installDirOf(options.stateDir);
  const slot = runningSlot();
  /** One upgrade at a time: two would unpack into the same slot. */
  let installing = false;

  async function publish(state: State, record: UpgradeRecord | undefined): Promise<void> {
    if (!record) return;
    const spec = {
      upgradeId: record.id,
      fromVersion: record.from.version,
      toVersion: record.to.version,
      fromSlot: record.from.slot ?? "",
      toSlot: record.to.slot,
      state: record.state,
      error: record.error ?? "",
      lastCheck: record.lastCheck ?? "",
      requestedAt: record.requestedAt,
      finishedAt: record.finishedAt ?? "",
    };
    await state.upsert(
      UpgradeStatus.ptr(upgradeStatusId),
      (d) => {
        d.spec = spec;
      },
      { owner: "agent", initial: () => spec },
    );
  }

  async function installNow(req: UpgradeRequest, deps: InstallDeps): Promise<UpgradeAccepted> {
    const bundle = verifyBundle(req.bundle);
    await checkDependencies(bundle.manifest, await ownNodeModules());
    const previous = await readUpgradeRecord(installDir);
    if (previous?.state === "trying") {
      throw new PlinthError(
        "failed_precondition",
        `Upgrade: the upgrade to ${previous.to.version} is still being tried; wait until it is done or rolled back`,
      );
    }
    const current = await readCurrent(installDir);
    if (current !== slot) {
      throw new PlinthError(
        "failed_precondition",
        `Upgrade: slot ${current ?? "(none)"} is current but this agent runs from ${slot ?? "its start-up code"}; reboot first`,
      );
    }
    const target = otherSlot(current);
    await installSlot(installDir, target, bundle, await ownNodeModules());
    // Last before the record: the guard takes etcd's lifecycle lock, held until the new agent is up.
    const warnings = req.stage ? [] : await deps.guard();
    const record: UpgradeRecord = {
      id: randomUUID(),
      from: { ...(current ? { slot: current } : {}), version: options.version },
      to: { slot: target, version: bundle.manifest.version },
      state: "staged",
      timeoutMs: req.timeoutMs ?? deps.defaultTimeoutMs,
      requestedAt: new Date().toISOString(),
      attempts: 0,
      requireEtcd: deps.etcdHealthy,
    };
    await writeUpgradeRecord(installDir, record);
    await publish(deps.state, record);
    options
      .log()
      .info(
        { from: options.version, to: record.to.version, slot: target, stage: req.stage },
        req.stage ? "upgrade staged for the next reboot" : "upgrade installed: restarting the agent",
      );
    return {
      upgradeId: record.id,
      fromVersion: options.version,
      toVersion: record.to.version,
      staged: req.stage,
      warnings,
    };
  }

  return {
    installDir,

    /**
     * Verifies and installs the bundle and records the upgrade as staged; the caller then
     * restarts the process (unless `stage`), and the launcher switches and tries it.
     */
    async install(req: UpgradeRequest, deps: InstallDeps): Promise<UpgradeAccepted> {
      if (req.timeoutMs !== undefined && req.timeoutMs < 1000) {
        throw new PlinthError(
          "invalid_argument",
          `Upgrade: 'timeout' must be at least 1s, current value is ${req.timeoutMs} ms`,
        );
      }
      if (installing) {
        throw new PlinthError(
          "failed_precondition",
          "Upgrade: another upgrade is being installed on this node",
        );
      }
      installing = true;
      try {
        return await installNow(req, deps);
      } finally {
        installing = false;
      }
    },

    /** Whether a staged upgrade waits for the next reboot (which must then restart the process). */
    async stagedPending(): Promise<boolean> {
      return (await readUpgradeRecord(installDir).catch(() => undefined))?.state === "staged";
    },

    /** Mirrors the record into UpgradeStatus (at every boot). */
    async publish(state: State): Promise<void> {
      await publish(state, await readUpgradeRecord(installDir));
    },

    /**
     * In the agent an upgrade is being tried with: checks the machine every 500 ms and marks
     * the upgrade done once `check` finds nothing wrong. Until then the latest finding is
     * recorded: it is the reason given if the launcher rolls back.
     */
    async confirmWhenHealthy(
      state: State,
      check: (o: { requireEtcd: boolean }) => Promise<string | undefined>,
      signal: AbortSignal,
    ): Promise<void> {
      let record = await readUpgradeRecord(installDir);
      if (record?.state !== "trying" || record.to.slot !== slot) return;
      while (!signal.aborted) {
        const problem: string | undefined = await check({ requireEtcd: !!record.requireEtcd }).catch(
          (err: Error) => err.message,
        );
        const now = await readUpgradeRecord(installDir);
        if (now?.id !== record.id || now.state !== "trying") return;
        if (problem === undefined) {
          record = { ...now, state: "done", finishedAt: new Date().toISOString() };
          await writeUpgradeRecord(installDir, record);
          await publish(state, record);
          options.log().info({ version: record.to.version }, "upgrade done: the new agent is healthy");
          return;
        }
        if (problem !== now.lastCheck) {
          record = { ...now, lastCheck: problem };
          await writeUpgradeRecord(installDir, record);
          await publish(state, record);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
}

export type AgentUpgrades = ReturnType<typeof createAgentUpgrades>;
