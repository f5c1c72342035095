// Nodes for the peers' sides: one set of network, UTS and mount namespaces per node and one more
// holding the bridge they all hang off, so that nothing is added to the machine's own network
// namespace; killing the holders removes every link with them. Unlike src/testing/sandbox.ts the
// nodes share the machine's /etc (copying it takes seconds on a busy disk): the programs run here
// (etcd, nebula, wireguard-go, iperf3, ping) write nothing there.
import { type ChildProcess, execFile, type SpawnOptions, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { RunResult } from "../../src/agent/host/host.ts";
import { findBinary } from "../../src/doctor/doctor.ts";
import { createSwitchBridge, plugIntoSwitch, mustRun as run } from "../../src/testing/lab-network.ts";
import { createSandbox, requireSandboxTools } from "../../src/testing/sandbox.ts";

/** A process holding the namespaces, and what runs inside them. */
export interface LabBox {
  readonly name: string;
  readonly pid: number;
  /** A directory of its own on the machine (visible inside: /tmp is shared). */
  readonly dir: string;
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<RunResult>;
  /** A long-running process inside; killed by destroy(). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  destroy(): Promise<void>;
}

async function createBox(name: string): Promise<LabBox> {
  const dir = await mkdtemp(join(tmpdir(), "plinth-bench-lab-"));
  const script = `set -e; ip link set lo up; hostname '${name}'; echo ready; exec sleep infinity`;
  const holder = spawn(
    "unshare",
    ["--net", "--uts", "--mount", "--propagation", "private", "--fork", "sh", "-c", script],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  holder.stderr?.on("data", (d) => {
    stderr += d;
  });
  const ready = await new Promise<boolean>((resolve) => {
    createInterface({ input: holder.stdout! }).once("line", (l) => resolve(l === "ready"));
    holder.once("exit", () => resolve(false));
  });
  const inner =
    ready && holder.pid !== undefined ? await childPid(holder.pid).catch(() => undefined) : undefined;
  if (inner === undefined) {
    holder.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot create namespaces for ${name}: ${stderr.trim() || "the holder exited"}`);
  }
  const enter = ["-t", String(inner), "--net", "--uts", "--mount", "--"];
  const children = new Set<ChildProcess>([holder]);
  return {
    name,
    pid: inner,
    dir,
    exec(command, args, o = {}) {
      return new Promise((resolve, reject) => {
        execFile(
          "nsenter",
          [...enter, command, ...args],
          { timeout: o.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => {
            const e = err as (Error & { code?: number | string }) | null;
            if (e && typeof e.code === "string") reject(e);
            else resolve({ stdout, stderr, code: e ? Number(e.code ?? 1) : 0 });
          },
        );
      });
    },
    spawn(command, args, o = {}) {
      const child = spawn("nsenter", [...enter, command, ...args], { stdio: "pipe", ...o });
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    },
    async destroy() {
      const all = [...children];
      for (const c of all) c.kill("SIGKILL");
      try {
        process.kill(inner, "SIGKILL");
      } catch {
        // gone with the holder
      }
      await Promise.all(
        all.map((c) =>
          c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)),
        ),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function childPid(parent: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile("pgrep", ["-P", String(parent)], (err, stdout) => {
      const pid = Number(stdout.trim().split("\n")[0]);
      if (err || !Number.isInteger(pid) || pid <= 0) reject(new Error(`no process under ${parent}`));
      else resolve(pid);
    });
  });
}

export interface LabNode {
  readonly box: LabBox;
  /** The node's IPv4 address on the bridge. */
  readonly ip: string;
}

export interface Lab {
  readonly nodes: readonly LabNode[];
  destroy(): Promise<void>;
}

export interface LabOptions {
  /** Prefix of the sandboxes' names (hostnames). */
  readonly name: string;
  readonly nodes: number;
  /** First three octets of the /24 the nodes get addresses in, from .11 on. */
  readonly subnet: string;
  /** Sandboxes with a private copy of /etc and /var (src/testing/sandbox.ts), for agents. */
  readonly privateEtc?: boolean;
  /** A private tmpfs on /run/wireguard in each node, where wireguard-go puts its control socket. */
  readonly wireguardRun?: boolean;
}

export { run };

export async function createLab(options: LabOptions): Promise<Lab> {
  await requireSandboxTools();
  const boxes: LabBox[] = [];
  const destroy = async () => {
    await Promise.all(boxes.map((b) => b.destroy()));
  };
  try {
    const make = (name: string): Promise<LabBox> =>
      options.privateEtc ? createSandbox({ name }) : createBox(name);
    const sw = await createBox(`${options.name}-switch`);
    boxes.push(sw);
    await createSwitchBridge(sw);
    const nodes: LabNode[] = [];
    for (let i = 1; i <= options.nodes; i++) {
      const box = await make(`${options.name}-${i}`);
      boxes.push(box);
      const ip = `${options.subnet}.${10 + i}`;
      await plugIntoSwitch(sw, box, `port${i}`, `${ip}/24`);
      if (options.wireguardRun) {
        // The mount stays inside the sandbox's mount namespace; the directory itself is an empty
        // mount point on the machine's /run.
        await run(box, "sh", [
          "-c",
          "mkdir -p /run/wireguard && mount -t tmpfs -o mode=0700 tmpfs /run/wireguard",
        ]);
      }
      nodes.push({ box, ip });
    }
    return { nodes, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export async function requireBinaries(names: readonly [string, string][]): Promise<void> {
  const missing: string[] = [];
  for (const [binary, pkg] of names) if (!(await findBinary(binary))) missing.push(`${binary} (${pkg})`);
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(", ")}: run 'npx plinth doctor --install' as root`);
  }
}

const pingTimeoutMs = 60_000;

/** A ping's wait for its answer: short, so that a pair that could answer tries again soon. */
const pingWaitS = "0.1";
/** After this long, a slow answer (a machine under heavy load) gets a whole second. */
const pingPatientAfterMs = 10_000;

/**
 * Every ordered pair of nodes pings (each pair on its own, in parallel: one pair's unanswered
 * ping does not hold back the others) until it gets an answer; returns when the last pair got
 * one.
 */
export async function untilAllPing(
  nodes: readonly LabNode[],
  /** A node's address, or undefined while it has none yet. */
  address: (i: number) => string | undefined | Promise<string | undefined>,
  what: string,
  failed: () => string | undefined,
): Promise<void> {
  const pending = new Set<string>();
  for (let a = 0; a < nodes.length; a++)
    for (let b = 0; b < nodes.length; b++) if (a !== b) pending.add(`${a}>${b}`);
  const started = performance.now();
  const deadline = started + pingTimeoutMs;
  const untilAnswered = async (pair: string) => {
    const [a, b] = pair.split(">").map(Number) as [number, number];
    for (;;) {
      const why = failed();
      if (why) throw new Error(why);
      if (performance.now() > deadline) {
        throw new Error(`${what}: no answer within ${pingTimeoutMs / 1000} s for ${[...pending].join(", ")}`);
      }
      // Both ends need their address: without its own, a node has no route to ping by.
      const [from, to] = await Promise.all([address(a), address(b)]);
      const tried = performance.now();
      if (from !== undefined && to !== undefined) {
        const wait = tried - started < pingPatientAfterMs ? pingWaitS : "1";
        const r = await nodes[a]!.box.exec("ping", ["-n", "-q", "-c", "1", "-W", wait, to]);
        if (r.code === 0) {
          pending.delete(pair);
          return;
        }
      }
      // Not faster than every 20 ms: the processes this starts take from what is measured.
      await new Promise((r) => setTimeout(r, Math.max(0, 20 - (performance.now() - tried))));
    }
  };
  await Promise.all([...pending].map(untilAnswered));
}
