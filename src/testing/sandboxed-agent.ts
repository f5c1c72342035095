import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GuardedHttp2SessionManager } from "../api/client/http2-session-manager.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { clientContext, stringifyClientConfig } from "../config/client-config.ts";
import { yamlOf } from "../config/testing/fixtures.ts";
import { type CliResult, plinthBin } from "./cli.ts";
import { createSandbox, type Sandbox } from "./sandbox.ts";
import { workerServingApi } from "./worker-serving-api.ts";

/**
 * A real `plinth agent --mode netns` running inside a sandbox (its own network, UTS and mount
 * namespaces, private /etc and /var), so it applies host documents for real without reaching the
 * machine running the tests. The test process reaches the agent's API (127.0.0.1 inside the
 * sandbox) through a relay on a unix socket in the sandbox's directory: file system sockets do
 * not belong to a network namespace.
 */
export interface SandboxedAgent {
  readonly box: Sandbox;
  /** mTLS clients with an os:admin certificate. */
  readonly machine: Client<typeof MachineService>;
  readonly resources: Client<typeof ResourceService>;
  /** A complete worker config (with this machine's API certificate), as documents to add to. */
  readonly baseDocuments: readonly unknown[];
  /** Runs `plinth ARGS` inside the sandbox with an admin client config for this agent. */
  cli(args: readonly string[]): Promise<CliResult>;
  /** The agent's process id (the sandbox shares the PID namespace). */
  readonly pid: number;
  /** What the agent logged so far. */
  output(): string;
  /** Stops the agent (its services first), then removes the sandbox. */
  stop(): Promise<void>;
}

const apiPort = 50000;

export async function startSandboxedAgent(options: {
  name: string;
  /** Extra `plinth agent` flags. */
  args?: readonly string[];
  /**
   * Run the agent under a small init that starts it again whenever it exits (as a cluster
   * node's does): what upgrades and process restarts need. `pid` is then the init's.
   */
  init?: boolean;
}): Promise<SandboxedAgent> {
  const box = await createSandbox({ name: options.name });
  const children: ChildProcess[] = [];
  try {
    const { ca, admin, documents: baseDocuments } = await workerServingApi(options.name);
    const plinthconfig = join(box.dir, "plinthconfig");
    await writeFile(
      plinthconfig,
      stringifyClientConfig({
        context: options.name,
        contexts: {
          [options.name]: clientContext({
            endpoints: [`127.0.0.1:${apiPort}`],
            ca,
            crt: admin.crt,
            key: admin.key,
          }),
        },
      }),
      { mode: 0o600 },
    );

    let log = "";
    const command = [
      process.execPath,
      plinthBin,
      "agent",
      "--state-dir",
      "/var/lib/plinth/state",
      "--listen",
      `127.0.0.1:${apiPort}`,
      "--mode",
      "netns",
      "--metrics",
      "off",
      ...(options.args ?? []),
    ];
    const agent = options.init
      ? box.spawn("sh", ["-c", initScript, "init", ...command], { stdio: ["ignore", "ignore", "pipe"] })
      : box.spawn(command[0]!, command.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    children.push(agent);
    agent.stderr?.setEncoding("utf8").on("data", (d: string) => {
      log += d;
    });
    const socket = join(box.dir, "api.sock");
    const relay = box.spawn(process.execPath, ["-e", relayScript, socket, String(apiPort)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(relay);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: relay.stdout! }).once("line", () => resolve());
      relay.once("exit", (code) => reject(new Error(`API relay exited with ${code}`)));
    });

    const tls = (o: { cert?: string; key?: string; verify: boolean }) =>
      new GuardedHttp2SessionManager(
        `https://127.0.0.1:${apiPort}`,
        {},
        {
          createConnection: () =>
            tlsConnect({
              path: socket,
              ALPNProtocols: ["h2"],
              ca,
              ...(o.cert ? { cert: o.cert, key: o.key } : {}),
              rejectUnauthorized: o.verify,
              checkServerIdentity: (_host, cert) => checkServerIdentity("127.0.0.1", cert),
            }),
        },
      );
    const sessions = [tls({ cert: admin.crt, key: admin.key, verify: true }), tls({ verify: false })];
    const transport = (s: GuardedHttp2SessionManager) =>
      createGrpcTransport({ baseUrl: `https://127.0.0.1:${apiPort}`, sessionManager: s });
    const maintenance = createClient(MachineService, transport(sessions[1]!));

    // Up once it answers; then it leaves maintenance mode with the base config.
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}:\n${log}`);
      try {
        await maintenance.version({});
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`agent did not answer within 20 s: ${err}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await maintenance.applyConfiguration({ data: new TextEncoder().encode(yamlOf(...baseDocuments)) });
    sessions[1]!.abort();
    const machine = createClient(MachineService, transport(sessions[0]!));
    for (;;) {
      try {
        await machine.version({});
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`agent did not serve mTLS within 20 s: ${err}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    return {
      box,
      machine,
      resources: createClient(ResourceService, transport(sessions[0]!)),
      baseDocuments,
      async cli(args) {
        const r = await box.exec(process.execPath, [plinthBin, "--plinthconfig", plinthconfig, ...args]);
        return { code: r.code, stdout: r.stdout, stderr: r.stderr };
      },
      pid: agent.pid!,
      output: () => log,
      async stop() {
        sessions[0]!.abort();
        await new Promise<void>((resolve) => {
          if (agent.exitCode !== null || agent.signalCode !== null) return resolve();
          const force = setTimeout(() => agent.kill("SIGKILL"), 10_000);
          agent.once("exit", () => {
            clearTimeout(force);
            resolve();
          });
          agent.kill("SIGTERM");
        });
        await box.destroy();
      },
    };
  } catch (err) {
    for (const c of children) c.kill("SIGKILL");
    await box.destroy();
    throw err;
  }
}

/** Runs "$@" again whenever it exits; SIGTERM is passed on and ends the loop. */
const initScript = [
  "stop=0",
  "trap 'stop=1; kill -TERM $child 2>/dev/null' TERM INT",
  "while [ $stop = 0 ]; do",
  '  "$@" & child=$!',
  "  wait $child; wait $child 2>/dev/null",
  "  [ $stop = 0 ] && sleep 0.2",
  "done",
].join("\n");

/** Unix socket → 127.0.0.1:PORT, both ends piped; prints a line once listening. */
const relayScript = `
const net = require("node:net");
const [socket, port] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(port), "127.0.0.1");
  c.pipe(u).pipe(c);
  c.on("error", () => u.destroy());
  u.on("error", () => c.destroy());
}).listen(socket, () => console.log("listening"));
`;
