// The agent and its machine API end to end: agents as child processes on 127.0.0.1, driven by the
// CLI as a user would, with real TLS.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createApiTransport } from "../../src/api/client/api-transport.ts";
import { fromConnectError } from "../../src/api/error-mapping.ts";
import { MachineService } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService, WatchEventType } from "../../src/api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../../src/api/resource-wire.ts";
import { contextTls, parseClientConfig, selectContext } from "../../src/config/client-config.ts";
import { type AgentProcess, startAgentProcess } from "../../src/testing/agent-process.ts";
import { runCli } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";

const serviceDoc = (name: string, script: string) => `---
apiVersion: v1alpha1
kind: Service
name: ${name}
command: /bin/sh
args: ["-c", ${JSON.stringify(script)}]
restart: always
`;

describe("agent and machine API, three agents as processes", () => {
  let dir: string;
  let agents: AgentProcess[] = [];
  let cp: string;
  let admin: string[];
  const cli = (...args: string[]) => runCli(args);
  const as = (agent: AgentProcess, ...args: string[]) =>
    runCli(["--plinthconfig", admin[1]!, "-e", agent.endpoint, ...args]);

  async function adminClients(agent: AgentProcess) {
    const config = parseClientConfig(await readFile(admin[1]!, "utf8"), "plinthconfig");
    const { context } = selectContext(config);
    const api = createApiTransport({
      url: `https://${agent.endpoint}`,
      tls: contextTls(context),
    });
    return {
      machine: createClient(MachineService, api.transport),
      resources: createClient(ResourceService, api.transport),
      close: api.close,
    };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-e2e-agent-"));
    const gen = await cli("gen", "config", "e2e", "https://127.0.0.1:6443", "-o", dir);
    assert.equal(gen.code, 0, gen.stderr);
    cp = join(dir, "controlplane.yaml");
    admin = ["--plinthconfig", join(dir, "plinthconfig")];
    agents = await Promise.all([1, 2, 3].map((i) => startAgentProcess({ stateDir: join(dir, `node-${i}`) })));
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    await rm(dir, { recursive: true, force: true });
  });

  it("starts in maintenance mode: Version and ApplyConfiguration only, without a client certificate", async () => {
    const v = await cli("version", "-i", "-e", agents[0]!.endpoint);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /maintenance mode: waiting for a config/);
    const api = createApiTransport({ url: `https://${agents[0]!.endpoint}`, tls: { insecure: true } });
    try {
      await assert.rejects(createClient(MachineService, api.transport).serviceList({}), (err) => {
        const e = fromConnectError(err);
        return e.code === "permission_denied" && /maintenance mode/.test(e.message);
      });
    } finally {
      api.close();
    }
    const mtls = await as(agents[0]!, "get", "machinestatus");
    assert.equal(mtls.code, 1);
    assert.match(
      mtls.stderr,
      /^plinth: TLS failure talking to https:\/\/127\.0\.0\.1:\d+: .*--insecure\)\n$/,
    );
  });

  it("rejects an invalid config naming every problem, and stores nothing", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "apiVersion: v1alpha1\nkind: Hostname\nhostname: 5\n---\napiVersion: v1alpha1\nkind: Sysctls\nsysctls:\n  'bad key!': '1'\n",
    );
    const r = await cli("apply-config", "-i", "-e", agents[0]!.endpoint, "-f", bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /document 1 \(Hostname\): hostname: /);
    assert.match(r.stderr, /document 2 \(Sysctls\): sysctls/);
    assert.match((await cli("version", "-i", "-e", agents[0]!.endpoint)).stdout, /maintenance mode/);
  });

  it("applies a config with --insecure (dry run first), then serves mTLS only", async () => {
    const dry = await cli("apply-config", "-i", "-e", agents[0]!.endpoint, "-f", cp, "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^\+kind: MachineConfig$/m);
    assert.match(dry.stdout, /dry run: nothing was changed/);
    for (const a of agents) {
      const r = await cli("apply-config", "-i", "-e", a.endpoint, "-f", cp);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /leaves maintenance mode/);
    }
    const v = await eventually("mTLS version", async () => {
      const r = await as(agents[0]!, "version");
      return r.code === 0 ? r : undefined;
    });
    assert.doesNotMatch(v.stdout, /maintenance/);
    const insecure = await cli("version", "-i", "-e", agents[0]!.endpoint);
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /needs a client certificate signed by the API CA/);
    const ms = await as(
      agents[0]!,
      "get",
      "machinestatus",
      "-o",
      "jsonpath={.spec.stage}/{.spec.configRevision}",
    );
    assert.equal(ms.stdout.trim(), "running/1");
  });

  it("a reader may read public resources but not sensitive ones", async () => {
    const readerFile = join(dir, "reader.yaml");
    const issued = await as(
      agents[0]!,
      "config",
      "new",
      readerFile,
      "--roles",
      "os:reader",
      "--crt-ttl",
      "1h",
    );
    assert.equal(issued.code, 0, issued.stderr);
    const denied = await runCli(["--plinthconfig", readerFile, "get", "machineconfig"]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /role os:reader .* may not read MachineConfig: its resources are sensitive/);
    const allowed = await runCli(["--plinthconfig", readerFile, "get", "machinestatus"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /MachineStatus\s+machine/);
    const apply = await runCli(["--plinthconfig", readerFile, "apply-config", "-f", cp]);
    assert.equal(apply.code, 1);
    assert.match(apply.stderr, /os:reader/);
  });

  it("streams watch events in order and ends the stream cleanly on cancel", async () => {
    const c = await adminClients(agents[0]!);
    const ac = new AbortController();
    const revisions: number[] = [];
    let bootstrapped = false;
    const watching = (async () => {
      for await (const m of c.resources.watch(
        { type: "MachineConfig", bootstrapContents: true },
        { signal: ac.signal },
      )) {
        if (m.eventType === WatchEventType.BOOTSTRAPPED) bootstrapped = true;
        if (m.eventType === WatchEventType.UPDATED || m.eventType === WatchEventType.CREATED) {
          revisions.push((resourceFromWire(m.resource).spec as { revision: number }).revision);
        }
      }
    })().catch((err) => {
      if (!ac.signal.aborted) throw err;
    });
    await eventually("bootstrapped", async () => (bootstrapped ? true : undefined));
    const base = await readFile(cp, "utf8");
    for (const [i, script] of [
      "echo one; exec sleep 60",
      "echo two; exec sleep 60",
      "echo hello-from-service; exec sleep 60",
    ].entries()) {
      const file = join(dir, `cp-${i}.yaml`);
      await writeFile(file, base + serviceDoc("greeter", script));
      const r = await as(agents[0]!, "apply-config", "-f", file);
      assert.equal(r.code, 0, r.stderr);
    }
    await eventually("three updates", async () => (revisions.length >= 4 ? true : undefined));
    ac.abort();
    await watching;
    assert.deepEqual(revisions, [1, 2, 3, 4]);
    c.close();
  });

  it("runs services from the config: list, logs, stop and start", async () => {
    const listed = await eventually("greeter running", async () => {
      const r = await as(agents[0]!, "services");
      return /greeter\s+running/.test(r.stdout) ? r : undefined;
    });
    assert.match(listed.stdout, /SERVICE\s+STATE/);
    const logs = await eventually("greeter logs", async () => {
      const r = await as(agents[0]!, "logs", "greeter");
      return r.stdout.includes("hello-from-service") ? r : undefined;
    });
    assert.equal(logs.code, 0);
    const stop = await as(agents[0]!, "service", "greeter", "stop");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match((await as(agents[0]!, "services", "greeter")).stdout, /greeter\s+stopped/);
    const status = await eventually("status resource follows", async () => {
      const r = await as(agents[0]!, "get", "servicestatus", "greeter", "-o", "jsonpath={.spec.state}");
      return r.stdout.trim() === "stopped" ? r : undefined;
    });
    assert.equal(status.code, 0);
    await as(agents[0]!, "service", "greeter", "start");
    await eventually("greeter running again", async () => {
      const r = await as(agents[0]!, "services", "greeter");
      return /greeter\s+running/.test(r.stdout) ? true : undefined;
    });
    const missing = await as(agents[0]!, "service", "nope", "restart");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service 'nope' does not exist/);
    const history = await as(agents[0]!, "config", "history");
    assert.match(history.stdout, /^4\s+\S+\s+auto\s+admin/m);
  });

  it("fans a call out to three nodes and reports an unreachable one without failing the others", async () => {
    await agents[2]!.kill("SIGKILL");
    const nodes = agents.map((a) => a.endpoint).join(",");
    const r = await as(agents[0]!, "-n", nodes, "get", "machinestatus");
    assert.equal(r.code, 1, "a node failed, so the exit code says so");
    assert.match(r.stdout, /^NODE\s+NAMESPACE/m);
    assert.match(r.stdout, new RegExp(`^${agents[0]!.endpoint}\\s+runtime\\s+MachineStatus`, "m"));
    assert.match(r.stdout, new RegExp(`^${agents[1]!.endpoint}\\s+runtime\\s+MachineStatus`, "m"));
    assert.match(r.stderr, new RegExp(`node ${agents[2]!.endpoint}: .*ECONNREFUSED`));
    await agents[2]!.restart();
  });

  it("keeps its config across kill -9 and comes back with it", async () => {
    const before = (await as(agents[1]!, "config", "history")).stdout;
    assert.equal(await agents[1]!.kill("SIGKILL"), null);
    await agents[1]!.restart();
    const v = await as(agents[1]!, "version");
    assert.equal(v.code, 0, v.stderr);
    assert.equal((await as(agents[1]!, "config", "history")).stdout, before);
  });

  it("answers oversized and malformed requests with clear errors and changes nothing", async () => {
    const huge = join(dir, "huge.yaml");
    await writeFile(huge, `${await readFile(cp, "utf8")}# ${"x".repeat(5 * 1024 * 1024)}\n`);
    const r = await as(agents[0]!, "apply-config", "-f", huge);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^plinth: message size \d+ is larger than configured readMaxBytes 4194304\n$/);
    // A gRPC frame whose bytes are not a protobuf message.
    const status = await new Promise<string>((resolve, reject) => {
      const session = http2Connect(`https://${agents[0]!.endpoint}`, { rejectUnauthorized: false });
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": "/plinth.machine.v1alpha1.MachineService/ApplyConfiguration",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0x0a, 0x0d]);
      const frame = Buffer.alloc(5 + garbage.length);
      frame.writeUInt32BE(garbage.length, 1);
      garbage.copy(frame, 5);
      req.on("trailers", (t) => resolve(String(t["grpc-status"])));
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) resolve(String(h["grpc-status"]));
      });
      req.on("close", () => session.close());
      req.end(frame);
    });
    assert.notEqual(status, "0");
    const history = await as(agents[0]!, "config", "history");
    assert.match(history.stdout, /^4\s/m, "no new config was stored");
    assert.doesNotMatch(history.stdout, /^5\s/m);
  });

  it("reboot restarts the agent and its services; reset returns the machine to maintenance mode", async () => {
    const pidOf = async () => {
      const r = await as(agents[0]!, "get", "servicestatus", "greeter", "-o", "jsonpath={.spec.pid}");
      return r.stdout.trim();
    };
    const before = await pidOf();
    const reboot = await as(agents[0]!, "reboot");
    assert.equal(reboot.code, 0, reboot.stderr);
    const after = await eventually("a new service process", async () => {
      const pid = await pidOf().catch(() => "");
      return pid !== "" && pid !== before ? pid : undefined;
    });
    assert.notEqual(after, before);
    const reset = await as(agents[0]!, "reset", "--graceful");
    assert.equal(reset.code, 0, reset.stderr);
    await eventually("maintenance mode", async () => {
      const r = await cli("version", "-i", "-e", agents[0]!.endpoint);
      return /maintenance mode/.test(r.stdout) ? true : undefined;
    });
  });
});
