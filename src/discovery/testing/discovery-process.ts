import { type ChildProcess, spawn } from "node:child_process";
import { plinthBin } from "../../testing/cli.ts";

// `plinth discovery serve` as a real process for tests: started on a port the OS picks (read back
// from the line the server prints), killed when the test process exits.

export interface DiscoveryProcess {
  /** `http://127.0.0.1:PORT` (or https with TLS). */
  readonly url: string;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly pid: number | undefined;
  /** What the server printed so far. */
  output(): string;
  /** Sends the signal and waits for the exit; resolves with the exit code (null when killed by a signal). */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts it again with the same arguments, on the same port. */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
let hooked = false;

export async function startDiscoveryProcess(
  args: readonly string[] = [],
  options: { host?: string; timeoutMs?: number } = {},
): Promise<DiscoveryProcess> {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of running) c.kill("SIGKILL");
    });
  }
  const host = options.host ?? "127.0.0.1";
  let port = 0;
  let metricsPort: number | undefined;
  let url = "";
  let child: ChildProcess;
  let log = "";

  async function launch(): Promise<void> {
    log = "";
    const proc = spawn(
      process.execPath,
      [plinthBin, "discovery", "serve", "--listen", `${host}:${port}`, "--metrics", `${host}:0`, ...args],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child = proc;
    running.add(proc);
    // A test that fails before stopping its server must not keep the test process alive; the
    // exit hook above kills what is left.
    proc.unref();
    (proc.stderr as { unref?: () => void } | null)?.unref?.();
    proc.once("exit", () => running.delete(proc));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`discovery server did not start within ${options.timeoutMs ?? 15_000} ms:\n${log}`));
      }, options.timeoutMs ?? 15_000);
      proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
        log += d;
        const m = log.match(/serving on (https?:\/\/\S+?:(\d+))(?: \(metrics on \S+:(\d+)\))?\n/);
        if (m) {
          clearTimeout(timer);
          url = m[1]!;
          port = Number(m[2]);
          metricsPort = m[3] ? Number(m[3]) : undefined;
          resolve();
        }
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`discovery server exited (${signal ?? code}) while starting:\n${log}`));
      });
    });
  }
  await launch();
  return {
    get url() {
      return url;
    },
    get address() {
      return `${host}:${port}`;
    },
    get port() {
      return port;
    },
    get metricsPort() {
      return metricsPort;
    },
    get pid() {
      return child.pid;
    },
    output: () => log,
    kill(signal = "SIGTERM") {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.ref(); // waiting for the exit keeps the caller alive
        child.once("exit", (code) => resolve(code));
        child.kill(signal);
      });
    },
    restart: launch,
  };
}
