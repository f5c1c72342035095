import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

// An agent killed with SIGKILL leaves its etcd running (services run in their own process
// groups). The next agent's etcd could not bind the ports or lock the data, so the agent records
// etcd's pid and, when it starts, stops an etcd it finds still running on the same data.

const pidFile = (pkiDir: string) => join(pkiDir, "etcd.pid");

/** Remembers the pid of the etcd the supervisor runs. */
export async function recordEtcdPid(pkiDir: string, pid: number): Promise<void> {
  await writeFile(pidFile(pkiDir), `${pid}\n`, { mode: 0o600 });
}

async function isEtcdOn(pid: number, dataDir: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.split("\0").includes(`--data-dir=${dataDir}`);
}

/**
 * Stops the etcd of an earlier agent process when it is still running on `dataDir` (and is not
 * `currentPid`, the one this agent runs). SIGTERM, then SIGKILL after `timeoutMs`. Returns the pid
 * it stopped.
 */
export async function stopStaleEtcd(
  pkiDir: string,
  dataDir: string,
  options: { currentPid?: number; timeoutMs?: number } = {},
): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile(pkiDir), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === options.currentPid) return undefined;
  if (!(await isEtcdOn(pid, dataDir))) return undefined;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  while (await isEtcdOn(pid, dataDir)) {
    if (Date.now() > deadline) {
      signal("SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return pid;
}
