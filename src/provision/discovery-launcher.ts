import { spawn } from "node:child_process";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PlinthError } from "../errors/plinth-error.ts";
import type { DiscoveryPlan } from "./cluster-plan.ts";
import { plinthBin } from "./node-launcher.ts";

/**
 * Starts `plinth discovery serve` for the cluster inside its own namespace (reachable from the
 * nodes' bridges only, never from outside the machine), logging to `discovery.log` in the
 * cluster directory. Detached, so it outlives the provisioner; `cluster destroy` stops it by the
 * recorded pid or, without a record, by its namespace. Resolves with the pid once it serves.
 */
export async function launchDiscovery(
  clusterDir: string,
  discovery: DiscoveryPlan,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const logPath = join(clusterDir, "discovery.log");
  const log = await open(logPath, "a");
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      discovery.netns,
      process.execPath,
      plinthBin,
      "discovery",
      "serve",
      "--listen",
      `${discovery.ip}:${discovery.port}`,
      "--metrics",
      "off",
      // Nodes behind one NAT share an address: no per-address limit on a private service.
      "--rate-limit",
      "0",
    ],
    { detached: true, stdio: ["ignore", log.fd, log.fd] },
  );
  await log.close();
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new PlinthError("internal", "cannot start the discovery service");
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `${signal ?? code}`;
  });
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const text = await readFile(logPath, "utf8").catch(() => "");
    if (text.includes(`serving on ${discovery.url}`)) return pid;
    if (exited !== undefined || Date.now() > deadline || options.signal?.aborted) {
      if (exited === undefined) process.kill(pid, "SIGKILL");
      throw new PlinthError(
        "unavailable",
        `discovery service did not start on ${discovery.url}${exited ? ` (exited: ${exited})` : ""}:\n${text.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
