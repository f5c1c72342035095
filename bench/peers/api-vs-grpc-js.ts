// Comparison 4: unary calls over mTLS, 100 concurrent callers for 10 s, against a real
// `plinth agent` process serving MachineService.Version and against a minimal @grpc/grpc-js
// server process answering the same message. Same certificates (one server certificate issued by
// the machine API CA, one os:admin client certificate), same client (grpc-load.ts), one
// connection each, the same warm-up.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createApiTransport } from "../../src/api/client/api-transport.ts";
import { MachineService } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { yamlOf } from "../../src/config/testing/fixtures.ts";
import { type AgentProcess, startAgentProcess } from "../../src/testing/agent-process.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { workerServingApi } from "../../src/testing/worker-serving-api.ts";
import type { GrpcJsServerSettings } from "./grpc-js-server.ts";
import { unaryLoad } from "./grpc-load.ts";
import type { Comparison } from "./summary.ts";

const callers = 100;
const durationMs = 10_000;
const warmupMs = 2000;
const versionPath = "/plinth.machine.v1alpha1.MachineService/Version";

interface Certificates {
  readonly ca: string;
  readonly server: { readonly crt: string; readonly key: string };
  readonly admin: { readonly crt: string; readonly key: string };
  /** A complete worker config serving the API with `server`. */
  readonly config: string;
}

async function certificates(): Promise<Certificates> {
  const { ca, server, admin, documents } = await workerServingApi("bench");
  return { ca, server, admin, config: yamlOf(...documents) };
}

/** A configured agent on 127.0.0.1: started in maintenance mode, given the config, serving mTLS. */
async function startConfiguredAgent(dir: string, certs: Certificates): Promise<AgentProcess> {
  const agent = await startAgentProcess({ stateDir: join(dir, "state") });
  try {
    const insecure = createApiTransport({ url: `https://${agent.endpoint}`, tls: { insecure: true } });
    try {
      await createClient(MachineService, insecure.transport).applyConfiguration({
        data: new TextEncoder().encode(certs.config),
      });
    } finally {
      insecure.close();
    }
    const admin = createApiTransport({
      url: `https://${agent.endpoint}`,
      tls: { ca: certs.ca, cert: certs.admin.crt, key: certs.admin.key },
    });
    try {
      const machine = createClient(MachineService, admin.transport);
      await eventually(
        "the agent to serve mTLS with its config",
        async () => ((await machine.version({})).messages[0]?.maintenance === false ? true : undefined),
        20_000,
        100,
      );
    } finally {
      admin.close();
    }
    return agent;
  } catch (err) {
    await agent.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${agent.output()}`);
  }
}

async function startGrpcJsServer(
  dir: string,
  settings: GrpcJsServerSettings,
): Promise<{
  child: ChildProcess;
  port: number;
}> {
  const file = join(dir, "grpc-js.json");
  await writeFile(file, JSON.stringify(settings), { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [
      "--disable-warning=ExperimentalWarning",
      fileURLToPath(new URL("./grpc-js-server.ts", import.meta.url)),
      file,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (l) => resolve(Number(l.split(" ")[1])));
    child.once("exit", (code) =>
      reject(new Error(`the grpc-js server exited with ${code}: ${stderr.trim()}`)),
    );
  });
  return { child, port };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

let runs = 0;

export const apiVsGrpcJs: Comparison = {
  title: "API vs grpc-js",
  figures: [
    {
      key: "plinthRps",
      label: `Plinth agent, Version over mTLS, ${callers} callers`,
      unit: "calls/s",
      digits: 0,
      json: false,
    },
    { key: "grpcJsRps", label: "@grpc/grpc-js server, same call", unit: "calls/s", digits: 0, json: false },
    {
      key: "apiRpsRatio",
      label: "Plinth / grpc-js",
      unit: "×",
      digits: 2,
      goal: { value: 1, higherIsBetter: true },
      json: true,
    },
    {
      key: "apiP99Ms",
      label: "Plinth p99 latency",
      unit: "ms",
      digits: 1,
      goal: { value: 20, higherIsBetter: false },
      json: true,
    },
    { key: "grpcJsP99Ms", label: "grpc-js p99 latency", unit: "ms", digits: 1, json: false },
  ],
  notes: [
    `${durationMs / 1000} s per side after ${warmupMs / 1000} s of warm-up, one HTTP/2 connection, the sides in turn`,
    "both verify the client certificate against the same CA; Plinth also maps it to a role per call",
    "the client, both servers and the bench share the same CPUs",
    `with ${callers} calls in flight the mean latency is ${callers} / rate (Little's law): a p99 <= 20 ms`,
    `needs well over ${(callers / 0.02).toLocaleString("en")} calls/s, which bounds apiP99Ms on a machine this size`,
    "the agent answers plain gRPC unary calls on a direct HTTP/2 path (src/api/grpc-fast-path.ts), with",
    "the same role check, implementation and error translation as its connect router, which serves the rest",
    "(before it, connect's per-call machinery held the agent to about a quarter of grpc-js's rate)",
  ],
  async run() {
    const certs = await certificates();
    const dir = await mkdtemp(join(tmpdir(), "plinth-bench-api-"));
    let agent: AgentProcess | undefined;
    let peer: ChildProcess | undefined;
    try {
      agent = await startConfiguredAgent(dir, certs);
      const tls = { ca: certs.ca, cert: certs.admin.crt, key: certs.admin.key };
      const request = new Uint8Array();
      const load = (port: number) =>
        unaryLoad({
          url: `https://127.0.0.1:${port}`,
          path: versionPath,
          request,
          tls,
          callers,
          durationMs,
          warmupMs,
        });
      // The peer answers exactly what the agent answers.
      const probe = await unaryLoad({
        url: `https://${agent.endpoint}`,
        path: versionPath,
        request,
        tls,
        callers: 1,
        durationMs: 100,
        warmupMs: 0,
      });
      const started = await startGrpcJsServer(dir, {
        ca: certs.ca,
        cert: certs.server.crt,
        key: certs.server.key,
        reply: Buffer.from(probe.reply).toString("base64"),
      });
      peer = started.child;
      // Alternate which side goes first, so that neither always meets a warmer machine.
      const plinthFirst = runs++ % 2 === 0;
      const first = await load(plinthFirst ? agent.port : started.port);
      const second = await load(plinthFirst ? started.port : agent.port);
      const [plinth, grpcJs] = plinthFirst ? [first, second] : [second, first];
      if (Buffer.compare(Buffer.from(plinth.reply), Buffer.from(grpcJs.reply)) !== 0) {
        throw new Error("the grpc-js server answered a different message than the agent");
      }
      return {
        plinthRps: plinth.callsPerSec,
        grpcJsRps: grpcJs.callsPerSec,
        apiRpsRatio: plinth.callsPerSec / grpcJs.callsPerSec,
        apiP99Ms: plinth.p99Ms,
        grpcJsP99Ms: grpcJs.p99Ms,
      };
    } finally {
      if (peer) await stop(peer);
      await agent?.kill();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
