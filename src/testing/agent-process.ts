import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { plinthBin } from "./cli.ts";
import { freePort } from "./free-port.ts";

export interface AgentProcess {
  readonly port: number;
  /** "127.0.0.1:PORT". */
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
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
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

/** Starts `plinth agent` as a child process on 127.0.0.1 and waits until its API listens. */
export async function startAgentProcess(options: {
  stateDir: string;
  port?: number;
  args?: readonly string[];
}): Promise<AgentProcess> {
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
        `127.0.0.1:${port}`,
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
    await waitForPort(port, child, 15_000, () => log);
  }
  await launch();
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
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
