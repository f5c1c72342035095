import { spawn } from "node:child_process";
import { cp, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodePlan } from "./cluster-plan.ts";

const plinthBin = fileURLToPath(new URL("../../bin/plinth.js", import.meta.url));
export const apiPort = 50000;

/** The node's private /etc and /var on the host. */
export function nodeDir(clusterDir: string, node: NodePlan): string {
  return join(clusterDir, "nodes", node.name);
}

export async function prepareNodeDirs(clusterDir: string, node: NodePlan): Promise<void> {
  const dir = nodeDir(clusterDir, node);
  await cp("/etc", join(dir, "etc"), { recursive: true, verbatimSymlinks: true, force: true }).catch(() => {
    // Unreadable special files are not needed inside the node.
  });
  for (const sub of ["var/lib/plinth", "var/log", "var/tmp", "var/run"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
}

/**
 * Starts the node's init inside its network namespace and fresh UTS and mount namespaces: it
 * bind-mounts the private /etc and /var, sets the hostname, and keeps `plinth agent` running
 * (a crashed or killed agent is started again, as a real machine's init would). Returns the
 * init's pid, which leads its process group.
 */
export async function launchNode(clusterDir: string, node: NodePlan): Promise<number> {
  const dir = nodeDir(clusterDir, node);
  const log = await open(join(dir, "var", "log", "plinth-agent.log"), "a");
  const agent = [
    JSON.stringify(process.execPath),
    JSON.stringify(plinthBin),
    "agent",
    "--state-dir /var/lib/plinth",
    `--listen ${node.ip}:${apiPort}`,
    "--mode netns",
    "--metrics 127.0.0.1:9101",
  ].join(" ");
  const script = [
    "set -e",
    `mount --bind ${JSON.stringify(join(dir, "etc"))} /etc`,
    `mount --bind ${JSON.stringify(join(dir, "var"))} /var`,
    `hostname ${node.name}`,
    `echo ${node.name} > /etc/hostname`,
    "set +e",
    `while true; do ${agent}; sleep 1; done`,
  ].join("\n");
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      node.netns,
      "unshare",
      "--uts",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
    ],
    {
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
    },
  );
  await log.close();
  child.unref();
  if (child.pid === undefined) throw new Error(`cannot start node ${node.name}`);
  return child.pid;
}
