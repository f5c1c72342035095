import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { plinthBin } from "./cli.ts";
import { freePort } from "./free-port.ts";

export interface AgentProcess {
  readonly port: number;
  /** "HOST:PORT". */
  readonly endpoint: string;
  readonly stateDir: string;
  readonly pid: number | undefined;
  /** What the agent printed to stderr so far (its log). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts the agent again on the same port and state dir. */
  restart(): Promise<void>;
}

async function waitForPort(
  host: string,
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`agent did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts `plinth agent` as a child process and waits until its API listens on `host` (default
 * 127.0.0.1; any 127.0.0.0/8 address gives the agent, and its etcd, an address of its own).
 */
export async function startAgentProcess(options: {
  stateDir: string;
  host?: string;
  port?: number;
  args?: readonly string[];
}): Promise<AgentProcess> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? (await freePort());
  let child: ChildProcess;
  let log = "";
  async function launch(): Promise<void> {
    log = "";
    child = spawn(
      process.execPath,
      [
        plinthBin,
        "agent",
        "--state-dir",
        options.stateDir,
        "--listen",
        `${host}:${port}`,
        "--metrics",
        "off",
        "--mode",
        "local",
        ...(options.args ?? []),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      log += d;
    });
    await waitForPort(host, port, child, 15_000, () => log);
  }
  await launch();
  return {
    port,
    endpoint: `${host}:${port}`,
    stateDir: options.stateDir,
    get pid() {
      return child.pid;
    },
    output: () => log,
    kill(signal = "SIGTERM") {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill(signal);
      });
    },
    restart: launch,
  };
}
