import { type ChildProcess, execFile, type SpawnOptions, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RunOptions, RunResult } from "../agent/host/host.ts";
import { type ConnectedHost, connectHost } from "../agent/host/host-wire.ts";
import { findBinary } from "../doctor/doctor.ts";
import { copyMachineEtc } from "../provision/private-etc.ts";

/**
 * A throwaway machine for tests: a process holding new network, UTS and mount namespaces, with
 * a private copy of /etc and an empty /var bind-mounted over the real ones. Hostname, links,
 * addresses, routes, `net.*` sysctls and files changed inside never reach the machine running
 * the tests. /run/wireguard (and /var/run/wireguard) is a private tmpfs, so WireGuard control
 * sockets do not collide between sandboxes. Needs root, unshare and nsenter (util-linux) and ip
 * (iproute2).
 */
export interface Sandbox {
  readonly name: string;
  /** PID of the process holding the namespaces. */
  readonly pid: number;
  /** Directory on the host holding the sandbox's etc/ and var/. */
  readonly dir: string;
  exec(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process inside; it is killed by destroy(). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * The production Node host adapter (root "/") running in a process inside the sandbox, driven
   * from this process: controllers tested in process make their host effects in the sandbox.
   */
  startHost(): Promise<ConnectedHost>;
  destroy(): Promise<void>;
}

export interface SandboxOptions {
  readonly name?: string;
  /**
   * Share the machine's /etc and /var instead of private copies: quicker to make, for programs
   * that write nothing there (benchmark peers). The hostname and /run/wireguard stay private.
   */
  readonly shareEtc?: boolean;
}

export async function requireSandboxTools(): Promise<void> {
  const missing: string[] = [];
  for (const [bin, pkg] of [
    ["unshare", "util-linux"],
    ["nsenter", "util-linux"],
    ["ip", "iproute2"],
  ] as const) {
    if (!(await findBinary(bin))) missing.push(`${bin} (${pkg})`);
  }
  if (process.getuid?.() !== 0) missing.push("root privileges");
  if (missing.length > 0) {
    throw new Error(`sandbox needs ${missing.join(", ")}: run 'npx plinth doctor --install' as root`);
  }
}

export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  await requireSandboxTools();
  const name = options.name ?? `sandbox-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const dir = await mkdtemp(join(tmpdir(), "plinth-sandbox-"));
  if (!options.shareEtc) {
    await copyMachineEtc(join(dir, "etc"));
    await mkdir(join(dir, "var", "lib", "plinth"), { recursive: true });
    await mkdir(join(dir, "var", "log"), { recursive: true });
    await mkdir(join(dir, "var", "tmp"), { recursive: true });
  }
  const privateFiles = [
    `mount --bind '${dir}/etc' /etc`,
    `mount --bind '${dir}/var' /var`,
    "mkdir -p /var/run",
    "ln -sfn /run/wireguard /var/run/wireguard",
    `echo '${name}' > /etc/hostname`,
  ];
  const script = [
    "set -e",
    // WireGuard control sockets: private, so two sandboxes can each run a link of the same name.
    "mkdir -p /run/wireguard",
    "mount -t tmpfs -o mode=0700 tmpfs /run/wireguard",
    ...(options.shareEtc ? [] : privateFiles),
    "ip link set lo up",
    `hostname '${name}'`,
    "echo ready",
    "exec sleep infinity",
  ].join("\n");
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
    const lines = createInterface({ input: holder.stdout! });
    lines.once("line", (l) => resolve(l === "ready"));
    holder.once("exit", () => resolve(false));
  });
  if (!ready || holder.pid === undefined) {
    holder.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot create sandbox ${name}: ${stderr.trim() || "namespace holder exited"}`);
  }
  // `unshare --fork` runs the script as its child: that child is the one inside the namespaces.
  const inner = await childPid(holder.pid);
  const children = new Set<ChildProcess>();
  const enter = ["-t", String(inner), "--net", "--uts", "--mount", "--"];

  const sandbox: Sandbox = {
    name,
    pid: inner,
    dir,
    exec(command, args, o = {}) {
      return new Promise((resolve, reject) => {
        const child = execFile(
          "nsenter",
          [...enter, command, ...args],
          { timeout: o.timeoutMs ?? 30_000, signal: o.signal, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => {
            const e = err as (Error & { code?: number | string }) | null;
            if (e && typeof e.code === "string") reject(e);
            else resolve({ stdout, stderr, code: e ? Number(e.code ?? 1) : 0 });
          },
        );
        if (o.input !== undefined) child.stdin?.end(o.input);
      });
    },
    spawn(command, args, o = {}) {
      const child = spawn("nsenter", [...enter, command, ...args], { stdio: "pipe", ...o });
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    },
    async startHost() {
      const child = sandbox.spawn(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", fileURLToPath(hostProcessUrl)],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr?.on("data", (d) => {
        stderr += d;
      });
      const host = connectHost({ input: child.stdout!, output: child.stdin! });
      // The first answer proves the process is up inside the namespaces.
      const name = await Promise.race([
        host.hostname(),
        new Promise<never>((_, reject) =>
          child.once("exit", (code) =>
            reject(new Error(`sandbox host process exited with ${code}: ${stderr.trim()}`)),
          ),
        ),
      ]);
      if (name !== sandbox.name) {
        child.kill("SIGKILL");
        throw new Error(`sandbox host process runs outside the sandbox: hostname is '${name}'`);
      }
      const close = host.close;
      return {
        ...host,
        close() {
          close();
          child.kill("SIGTERM");
        },
      };
    },
    async destroy() {
      // Processes started inside by others (an agent's supervised services) outlive a killed
      // agent; everything in the sandbox's network namespace goes.
      for (const pid of await processesSharingNetns(inner)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const c of children) c.kill("SIGKILL");
      holder.kill("SIGKILL");
      try {
        process.kill(inner, "SIGKILL");
      } catch {
        // gone with the holder
      }
      await Promise.all(
        [...children, holder].map((c) =>
          c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)),
        ),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
  return sandbox;
}

/** Every other process in the network namespace of `pid`. */
async function processesSharingNetns(pid: number): Promise<number[]> {
  const netns = await readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
  if (!netns) return [];
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
    if ((await readlink(`/proc/${entry}/ns/net`).catch(() => undefined)) === netns) found.push(Number(entry));
  }
  return found;
}

const hostProcessUrl = new URL("../agent/host/host-process.ts", import.meta.url);

function childPid(parent: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile("pgrep", ["-P", String(parent)], (err, stdout) => {
      const pid = Number(stdout.trim().split("\n")[0]);
      if (err || !Number.isInteger(pid) || pid <= 0)
        reject(new Error(`cannot find the sandbox process under ${parent}`));
      else resolve(pid);
    });
  });
}
