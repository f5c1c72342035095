import { spawn } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodePlan } from "./cluster-plan.ts";
import { copyMachineEtc } from "./private-etc.ts";

export const plinthBin = fileURLToPath(new URL("../../bin/plinth.js", import.meta.url));
export const apiPort = 50000;

/** The node's private /etc and /var on the host. */
export function nodeDir(clusterDir: string, node: NodePlan): string {
  return join(clusterDir, "nodes", node.name);
}

export async function prepareNodeDirs(clusterDir: string, node: NodePlan): Promise<void> {
  const dir = nodeDir(clusterDir, node);
  await copyMachineEtc(join(dir, "etc"));
  for (const sub of ["var/lib/plinth", "var/log", "var/tmp", "var/run"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
}

/**
 * Starts the node's init inside its network namespace and fresh UTS and mount namespaces: it
 * bind-mounts the private /etc and /var, mounts a private /run/wireguard, sets the hostname,
 * and keeps `plinth agent` running (a crashed or killed agent is started again, as a real
 * machine's init would). Returns the init's pid, which leads its process group.
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
  // On SIGTERM the init passes it on to the agent (which stops its services in order), waits
  // for it, and ends; so it does after a Shutdown (the agent leaves /var/lib/plinth/shutdown);
  // an agent that dies otherwise is started again.
  const script = [
    "set -e",
    `mount --bind ${JSON.stringify(join(dir, "etc"))} /etc`,
    `mount --bind ${JSON.stringify(join(dir, "var"))} /var`,
    // WireGuard's control sockets live in /var/run/wireguard (= /run/wireguard on a normal
    // machine): each node needs its own, or the nodes' mesh links would answer for each other.
    "mkdir -p /run/wireguard /var/run/wireguard",
    "mount -t tmpfs -o mode=0700,size=1m tmpfs /run/wireguard",
    "mount --bind /run/wireguard /var/run/wireguard",
    `hostname ${node.name}`,
    `echo ${node.name} > /etc/hostname`,
    "set +e",
    "stop=0",
    "trap 'stop=1; kill -TERM $agent 2>/dev/null' TERM INT",
    "while [ $stop = 0 ]; do",
    `  ${agent} & agent=$!`,
    "  wait $agent; wait $agent 2>/dev/null",
    // A Shutdown: the agent stopped everything and marked it; the node stays down.
    "  [ -e /var/lib/plinth/shutdown ] && break",
    "  [ $stop = 0 ] && sleep 1",
    "done",
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
