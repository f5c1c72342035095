import { type ChildProcess, execFile, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { PlinthError } from "../../errors/plinth-error.ts";
import { type BackoffOptions, backoffDelay } from "../../runtime/controller/backoff.ts";
import { compareNames } from "../../runtime/resource/compare-names.ts";
import { LogBuffer, type LogReadOptions } from "./log-buffer.ts";
import type { ServiceDefinition, ServiceState, ServiceStatus } from "./service-types.ts";

export interface SupervisorOptions {
  /** Where each service's log file goes (`<id>.log`); no files without it. */
  readonly logDir?: string;
  readonly backoff?: BackoffOptions;
  /** A run longer than this resets the restart backoff; default 10 s. */
  readonly stableAfterMs?: number;
  readonly onChange?: (status: ServiceStatus) => void;
}

export interface Supervisor {
  add(def: ServiceDefinition): void;
  /** Stops (if running) and forgets a service. */
  remove(id: string): Promise<void>;
  start(id: string): void;
  stop(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  status(id: string): ServiceStatus;
  /** The definition a service was added with. */
  definition(id: string): ServiceDefinition;
  list(): ServiceStatus[];
  logs(id: string, options?: LogReadOptions): AsyncIterable<string>;
  /** Stops every service, dependents before what they depend on. */
  stopAll(): Promise<void>;
}

interface Entry {
  def: ServiceDefinition;
  state: ServiceState;
  message: string;
  wanted: boolean;
  child?: ChildProcess;
  exited?: Promise<void>;
  healthy?: boolean;
  restarts: number;
  attempts: number;
  startedAt: number;
  lastExit?: ServiceStatus["lastExit"];
  timer?: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
  logs: LogBuffer;
}

/**
 * Supervises the processes of the services on a machine: dependency order, restart policy with
 * exponential backoff, health checks, and logs kept per service.
 */
export function createSupervisor(options: SupervisorOptions = {}): Supervisor {
  const entries = new Map<string, Entry>();
  const stableAfter = options.stableAfterMs ?? 10_000;

  function entry(id: string): Entry {
    const e = entries.get(id);
    if (!e) throw new PlinthError("not_found", `service ${id} does not exist`);
    return e;
  }

  function snapshot(e: Entry): ServiceStatus {
    return {
      id: e.def.id,
      state: e.state,
      ...(e.child?.pid !== undefined && e.state !== "stopped" ? { pid: e.child.pid } : {}),
      ...(e.healthy !== undefined ? { healthy: e.healthy } : {}),
      restarts: e.restarts,
      ...(e.lastExit ? { lastExit: e.lastExit } : {}),
      message: e.message,
    };
  }

  function set(e: Entry, state: ServiceState, message: string): void {
    e.state = state;
    e.message = message;
    options.onChange?.(snapshot(e));
    if (state === "running" && (e.healthy ?? true)) wakeDependents(e.def.id);
  }

  function depsReady(e: Entry): string | undefined {
    for (const dep of e.def.dependsOn ?? []) {
      const d = entries.get(dep);
      if (!d) return `waiting for service ${dep} (not defined)`;
      if (d.state !== "running" || d.healthy === false) return `waiting for service ${dep}`;
    }
    return undefined;
  }

  function wakeDependents(id: string): void {
    for (const e of entries.values()) {
      if (e.wanted && e.state === "waiting" && e.def.dependsOn?.includes(id)) launch(e);
    }
  }

  function launch(e: Entry): void {
    if (!e.wanted || e.child) return;
    const blocked = depsReady(e);
    if (blocked) {
      set(e, "waiting", blocked);
      return;
    }
    e.healthy = e.def.health ? false : undefined;
    let child: ChildProcess;
    try {
      child = spawn(e.def.command, [...(e.def.args ?? [])], {
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...e.def.env },
        cwd: e.def.cwd,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (err) {
      set(e, "failed", `cannot start ${e.def.command}: ${(err as Error).message}`);
      return;
    }
    e.child = child;
    e.startedAt = Date.now();
    child.stdout?.setEncoding("utf8").on("data", (d: string) => e.logs.write(d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => e.logs.write(d));
    e.exited = new Promise<void>((resolve) => {
      let spawnError: Error | undefined;
      child.once("error", (err) => {
        spawnError = err;
      });
      child.once("close", (code, signal) => {
        e.logs.flush();
        e.child = undefined;
        clearTimeout(e.healthTimer);
        e.lastExit = { code, signal, at: new Date().toISOString() };
        resolve();
        onExit(e, code, signal, spawnError);
      });
    });
    set(e, e.def.health ? "starting" : "running", `started, pid ${child.pid ?? "?"}`);
    if (e.def.health) scheduleHealth(e, 0);
  }

  function onExit(e: Entry, code: number | null, signal: string | null, spawnError?: Error): void {
    const how = spawnError
      ? (spawnError as NodeJS.ErrnoException).code === "ENOENT"
        ? `command not found: ${e.def.command}`
        : spawnError.message
      : signal
        ? `killed by ${signal}`
        : `exited with code ${code}`;
    if (!e.wanted) {
      set(e, "stopped", `stopped (${how})`);
      return;
    }
    const policy = e.def.restart ?? "always";
    const failed = spawnError !== undefined || signal !== null || code !== 0;
    if (policy === "never" || (policy === "on-failure" && !failed)) {
      e.wanted = false;
      set(e, failed ? "failed" : "finished", how);
      return;
    }
    if (Date.now() - e.startedAt > stableAfter) e.attempts = 0;
    const delay = backoffDelay(e.attempts++, options.backoff);
    set(e, "backoff", `${how}; restarting in ${delay} ms`);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      e.restarts++;
      launch(e);
    }, delay);
  }

  function scheduleHealth(e: Entry, delayMs: number): void {
    const check = e.def.health!;
    e.healthTimer = setTimeout(async () => {
      if (!e.child) return;
      const ok = await probe(check).catch(() => false);
      if (!e.child) return;
      if (ok !== e.healthy) {
        e.healthy = ok;
        set(e, "running", ok ? "healthy" : "health check failing");
      }
      scheduleHealth(e, check.intervalMs ?? 1000);
    }, delayMs);
  }

  async function terminate(e: Entry): Promise<void> {
    e.wanted = false;
    clearTimeout(e.timer);
    e.timer = undefined;
    clearTimeout(e.healthTimer);
    const child = e.child;
    if (!child || child.pid === undefined) {
      if (e.state !== "stopped") set(e, "stopped", "stopped");
      return;
    }
    set(e, "stopping", "stopping");
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    kill("SIGTERM");
    const timeout = setTimeout(() => kill("SIGKILL"), e.def.stopTimeoutMs ?? 10_000);
    await e.exited;
    clearTimeout(timeout);
  }

  function dependentsFirst(): Entry[] {
    const order: Entry[] = [];
    const visit = (e: Entry, seen: Set<string>) => {
      if (order.includes(e) || seen.has(e.def.id)) return;
      seen.add(e.def.id);
      for (const other of entries.values()) if (other.def.dependsOn?.includes(e.def.id)) visit(other, seen);
      order.push(e);
    };
    for (const e of entries.values()) visit(e, new Set());
    return order;
  }

  return {
    add(def) {
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(def.id)) {
        throw new TypeError(
          `Cannot add service: 'id' must be lowercase letters, digits, '.', '_' or '-', current value is '${def.id}'`,
        );
      }
      const existing = entries.get(def.id);
      if (existing) {
        existing.def = def;
        return;
      }
      entries.set(def.id, {
        def,
        state: "stopped",
        message: "not started",
        wanted: false,
        restarts: 0,
        attempts: 0,
        startedAt: 0,
        logs: new LogBuffer({ file: options.logDir ? join(options.logDir, `${def.id}.log`) : undefined }),
      });
    },
    async remove(id) {
      const e = entry(id);
      await terminate(e);
      e.logs.close();
      entries.delete(id);
    },
    start(id) {
      const e = entry(id);
      if (e.wanted && (e.child || e.timer)) return;
      e.wanted = true;
      e.attempts = 0;
      launch(e);
    },
    stop: (id) => terminate(entry(id)),
    async restart(id) {
      await terminate(entry(id));
      const e = entry(id);
      e.wanted = true;
      e.attempts = 0;
      e.restarts++;
      launch(e);
    },
    status: (id) => snapshot(entry(id)),
    definition: (id) => entry(id).def,
    list: () => [...entries.values()].map(snapshot).sort((a, b) => compareNames(a.id, b.id)),
    logs: (id, o) => entry(id).logs.read(o),
    async stopAll() {
      for (const e of dependentsFirst()) await terminate(e);
    },
  };
}

function probe(check: NonNullable<ServiceDefinition["health"]>): Promise<boolean> {
  const timeout = check.timeoutMs ?? 500;
  if (check.exec && check.exec.length > 0) {
    const [cmd, ...args] = check.exec;
    return new Promise((resolve) => {
      execFile(cmd!, args, { timeout }, (err) => resolve(!err));
    });
  }
  if (check.tcp) {
    const i = check.tcp.lastIndexOf(":");
    const host = check.tcp.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(check.tcp.slice(i + 1));
    return new Promise((resolve) => {
      const sock = connect({ host, port, timeout });
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => resolve(false));
      sock.once("timeout", () => {
        sock.destroy();
        resolve(false);
      });
    });
  }
  return Promise.resolve(true);
}
