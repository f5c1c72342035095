import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { access, constants, mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary } from "../doctor/doctor.ts";

// A real etcd for tests: one member on 127.0.0.1, free ports, a private data directory, logs in a
// file there. Every process started here is killed when the test process exits, even when a test
// forgets to stop it, so no etcd outlives the tests.

export interface StartEtcdOptions {
  /** Directory for etcd's data (under `etcd/`) and log (`etcd.log`); a fresh temp dir by default. */
  readonly dataDir?: string;
  /** Aborting kills the server. */
  readonly signal?: AbortSignal;
  /** How long to wait for the server to answer; default 20 s. */
  readonly startTimeoutMs?: number;
}

export interface EtcdServer {
  /** Client URL, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** Process id while running. */
  readonly pid: number | undefined;
  /** Stops gracefully (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
  /** Kills with SIGKILL, as a crash would, and waits for the exit. */
  kill(): Promise<void>;
  /** Starts again on the same data and ports (stopping first when running); waits until it answers. */
  restart(): Promise<void>;
  /** Stops and removes the data directory when it was created here. */
  dispose(): Promise<void>;
}

const missing = "etcd is missing: run 'npx plinth doctor --install' as root (apt-get install etcd-server)";

/** The etcd binary, from PATH or /usr/bin; throws naming the fix when there is none. */
export async function findEtcd(): Promise<string> {
  const found = await findBinary("etcd");
  if (found) return found;
  try {
    await access("/usr/bin/etcd", constants.X_OK);
    return "/usr/bin/etcd";
  } catch {
    throw new Error(missing);
  }
}

const running = new Set<ChildProcess>();
const createdDirs = new Set<string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
  createdDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAllSync();
      // Alone, our listener would keep the process alive; die of the signal as it would have.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port from the OS");
  return address.port;
}

async function logTail(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  options.signal?.throwIfAborted();
  const binary = await findEtcd();
  installExitHooks();
  let dataDir = options.dataDir;
  let ownsDir = false;
  if (dataDir === undefined) {
    dataDir = await mkdtemp(join(tmpdir(), "plinth-etcd-"));
    ownsDir = true;
    createdDirs.add(dataDir);
  } else {
    await mkdir(dataDir, { recursive: true });
  }
  const root = dataDir;
  const logPath = join(root, "etcd.log");
  const ports = { client: await freePort(), peer: await freePort() };
  const endpoint = () => `http://127.0.0.1:${ports.client}`;
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function launch(): Promise<void> {
    const peer = `http://127.0.0.1:${ports.peer}`;
    const log = await open(logPath, "a");
    const proc = spawn(
      binary,
      [
        "--name=plinth-test",
        `--data-dir=${join(root, "etcd")}`,
        `--listen-client-urls=${endpoint()}`,
        `--advertise-client-urls=${endpoint()}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=plinth-test=${peer}`,
        "--initial-cluster-state=new",
        "--logger=zap",
      ],
      { stdio: ["ignore", log.fd, log.fd], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    await log.close();
    proc.unref();
    running.add(proc);
    child = proc;
    let exitStatus: string | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once("error", (err) => {
        exitStatus = err.message;
        running.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
      proc.once("exit", (code, signal) => {
        exitStatus = signal ?? `code ${code}`;
        running.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitStatus !== undefined) {
        throw new Error(`etcd exited while starting (${exitStatus}); log:\n${await logTail(logPath)}`);
      }
      try {
        const res = await fetch(`${endpoint()}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === "true") return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`etcd did not answer within ${timeoutMs} ms; log:\n${await logTail(logPath)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  // Another process may take a port between our probe and etcd's bind: then try new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt < 3 && /address already in use/.test((err as Error).message)) {
        ports.client = await freePort();
        ports.peer = await freePort();
        continue;
      }
      if (ownsDir) {
        await rm(root, { recursive: true, force: true });
        createdDirs.delete(root);
      }
      throw err;
    }
  }
  const onAbort = () => void halt("SIGKILL");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  return {
    get endpoint() {
      return endpoint();
    },
    dataDir: root,
    get pid() {
      return child?.pid;
    },
    stop: () => halt("SIGTERM"),
    kill: () => halt("SIGKILL"),
    async restart() {
      await halt("SIGTERM");
      await launch();
    },
    async dispose() {
      options.signal?.removeEventListener("abort", onAbort);
      await halt("SIGTERM");
      if (ownsDir) {
        await rm(root, { recursive: true, force: true });
        createdDirs.delete(root);
      }
    },
  };
}
