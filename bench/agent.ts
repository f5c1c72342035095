// Agent benchmarks: `plinth agent` as a child process on 127.0.0.1, reached over its machine API as
// a client would (gRPC over HTTP/2; TLS in maintenance mode, mTLS with the admin certificate once
// configured). Figures: cold start to a Version answer, idle RSS, ResourceService.Get latency and
// ResourceService.Watch delivery rate.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { DriftStatus, MachineStatus, machineStatusId } from "../src/agent/resources/index.ts";
import { createApiTransport } from "../src/api/client/api-transport.ts";
import { MachineService } from "../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService, WatchEventType } from "../src/api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire, resourceToWire } from "../src/api/resource-wire.ts";
import { contextTls, parseClientConfig, selectContext } from "../src/config/client-config.ts";
import type { AnyResource } from "../src/runtime/resource/resource.ts";
import { plinthBin, runCli } from "../src/testing/cli.ts";
import { freePort } from "../src/testing/free-port.ts";
import { type BenchOptions, type Figure, percentile, printFigures, round } from "./harness.ts";

const coldStartRuns = 5;
const idleSettleMs = 3000;
const getWarmup = 300;
const getCalls = 3000;
const watchWriters = 64;
const watchWriteMs = 3000;

interface Tls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecure?: boolean;
}

interface Api {
  readonly machine: Client<typeof MachineService>;
  readonly resources: Client<typeof ResourceService>;
  close(): void;
}

function connectApi(endpoint: string, tls: Tls): Api {
  const api = createApiTransport({ url: `https://${endpoint}`, tls });
  return {
    machine: createClient(MachineService, api.transport),
    resources: createClient(ResourceService, api.transport),
    close: api.close,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Agent {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly endpoint: string;
  readonly log: () => string;
}

/** Every agent started here, so that a failure part-way still stops them all. */
const live = new Set<ChildProcess>();

/** Starts `plinth agent` as a user would: Node, bin/plinth.js, the CLI, then the agent. */
function spawnAgent(stateDir: string, port: number, metricsPort: number): Agent {
  const child = spawn(
    process.execPath,
    [
      plinthBin,
      "agent",
      "--state-dir",
      stateDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--metrics",
      `127.0.0.1:${metricsPort}`,
      "--mode",
      "local",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  child.once("exit", () => live.delete(child));
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    log += d;
  });
  if (child.pid === undefined) throw new Error(`cannot start ${process.execPath} ${plinthBin} agent`);
  return { child, pid: child.pid, endpoint: `127.0.0.1:${port}`, log: () => log };
}

function stopAgent(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Waits until Version answers: probes the port every 2 ms (a bare TCP connect, cheap, so the
 * bench takes little CPU from the starting agent), then calls Version on a fresh connection until
 * it succeeds.
 */
async function waitForVersion(agent: Agent, port: number, tls: Tls, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (agent.child.exitCode !== null)
      throw new Error(`agent exited with ${agent.child.exitCode}:\n${agent.log()}`);
    let failure: unknown;
    if (await portOpen(port)) {
      const api = connectApi(agent.endpoint, tls);
      try {
        await api.machine.version({}, { timeoutMs: 5000 });
        return;
      } catch (err) {
        failure = err;
      } finally {
        api.close();
      }
    }
    if (performance.now() > deadline) {
      throw new Error(
        `agent did not answer Version within ${timeoutMs} ms${failure ? `: ${failure}` : ""}\n${agent.log()}`,
      );
    }
    await sleep(2);
  }
}

/** Milliseconds from spawning the agent to its first Version answer; the agent keeps running. */
async function timeColdStart(
  stateDir: string,
  port: number,
  tls: Tls,
): Promise<{ ms: number; agent: Agent }> {
  const metricsPort = await freePort();
  const t0 = performance.now();
  const agent = spawnAgent(stateDir, port, metricsPort);
  await waitForVersion(agent, port, tls);
  return { ms: performance.now() - t0, agent };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

/** CPU time (user + system) the process has used so far, in ms. */
async function cpuMs(pid: number): Promise<number> {
  // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name.
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Sequential Gets of the machine status after a warm-up: one latency sample per call. */
async function getLatencies(api: Api): Promise<number[]> {
  const req = { type: MachineStatus.type, id: machineStatusId };
  for (let i = 0; i < getWarmup; i++) await api.resources.get(req);
  const samples: number[] = [];
  for (let i = 0; i < getCalls; i++) {
    const t0 = performance.now();
    await api.resources.get(req);
    samples.push(performance.now() - t0);
  }
  return samples;
}

/**
 * Watch delivery rate. The changes come from ResourceService.Update (admin-only) on DriftStatus
 * resources the bench creates (ids `bench:N`, owned by the user): the type is public, so any
 * reader may watch it, and no controller takes it as an input (the operator controllers only
 * list their own entries), so the figure is the agent's write path (validation, sqlite commit)
 * and its watch fan-out to the API stream, with no reconcile work on the side. Applying configs
 * with many Service documents would measure the config pipeline and process supervision
 * instead. 64 writers keep updates in flight so that the agent's batched commits, not one round
 * trip at a time, set the pace (8 writers leave the agent mostly idle; hundreds only queue). The
 * watcher has its own connection, as a separate client would. Rate: UPDATED events received /
 * time from the first update sent to the last event received.
 */
async function watchRate(
  agent: Agent,
  tls: Tls,
): Promise<{ eventsPerSec: number; agentCpuUsPerEvent: number }> {
  const writer = connectApi(agent.endpoint, tls);
  const watcher = connectApi(agent.endpoint, tls);
  const ac = new AbortController();
  try {
    const now = new Date().toISOString();
    const spec = (n: number) => ({
      controller: "bench",
      item: "bench item",
      expected: "expected",
      found: `found ${n}`,
      firstDetected: now,
      lastDetected: now,
      count: n,
      configRevision: 1,
    });
    const current: AnyResource[] = [];
    for (let w = 0; w < watchWriters; w++) {
      const created = await writer.resources.create({
        resource: resourceToWire(DriftStatus.make(`bench:${w}`, spec(1))),
      });
      current.push(resourceFromWire(created.messages[0]?.resource));
    }

    let received = 0;
    let lastAt = 0;
    let expected = Number.POSITIVE_INFINITY;
    let allReceived: () => void = () => {};
    const done = new Promise<void>((r) => {
      allReceived = r;
    });
    let established: () => void = () => {};
    const ready = new Promise<void>((r) => {
      established = r;
    });
    const watching = (async () => {
      for await (const m of watcher.resources.watch({ type: DriftStatus.type }, { signal: ac.signal })) {
        if (m.eventType === WatchEventType.ESTABLISHED) established();
        if (m.eventType !== WatchEventType.UPDATED) continue;
        received++;
        lastAt = performance.now();
        if (received >= expected) allReceived();
      }
    })().catch((err) => {
      if (!ac.signal.aborted) throw err;
    });
    await Promise.race([
      ready,
      watching.then(() => {
        throw new Error("the watch ended before it was established");
      }),
    ]);

    const cpu0 = await cpuMs(agent.pid);
    let writes = 0;
    const t0 = performance.now();
    const stopAt = t0 + watchWriteMs;
    await Promise.all(
      current.map(async (_, slot) => {
        for (let n = 2; performance.now() < stopAt; n++) {
          const r = current[slot]!;
          const stored = await writer.resources.update({
            resource: resourceToWire({ metadata: r.metadata, spec: spec(n) }),
          });
          current[slot] = resourceFromWire(stored.messages[0]?.resource);
          writes++;
        }
      }),
    );
    expected = writes;
    if (received >= expected) allReceived();
    await Promise.race([
      done,
      watching.then(() => {
        throw new Error(`the watch ended after ${received} of ${writes} events`);
      }),
      sleep(20_000).then(() => {
        throw new Error(`the watch delivered ${received} of ${writes} events within 20 s`);
      }),
    ]);
    const cpu1 = await cpuMs(agent.pid);
    return {
      eventsPerSec: received / ((lastAt - t0) / 1000),
      agentCpuUsPerEvent: ((cpu1 - cpu0) * 1000) / received,
    };
  } finally {
    ac.abort();
    writer.close();
    watcher.close();
  }
}

export async function agentBench(_options: BenchOptions): Promise<Record<string, number>> {
  const loadBefore = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), "plinth-bench-agent-"));
  try {
    const gen = await runCli(["gen", "config", "bench", "https://127.0.0.1:6443", "-o", dir]);
    if (gen.code !== 0) throw new Error(`plinth gen config failed: ${gen.stderr}`);
    const config = parseClientConfig(await readFile(join(dir, "plinthconfig"), "utf8"), "plinthconfig");
    const { context } = selectContext(config);
    const adminTls: Tls = contextTls(context);
    const insecure: Tls = { insecure: true };

    // Maintenance mode: a fresh state dir each run.
    const maintenance: number[] = [];
    for (let i = 0; i < coldStartRuns; i++) {
      const { ms, agent } = await timeColdStart(join(dir, `fresh-${i}`), await freePort(), insecure);
      maintenance.push(ms);
      await stopAgent(agent.child);
    }

    // Configured: apply the control-plane config once, then restart on the same state dir.
    const stateDir = join(dir, "configured");
    const port = await freePort();
    let { agent } = await timeColdStart(stateDir, port, insecure);
    const applied = await runCli([
      "apply-config",
      "-i",
      "-e",
      agent.endpoint,
      "-f",
      join(dir, "controlplane.yaml"),
    ]);
    if (applied.code !== 0) throw new Error(`plinth apply-config failed: ${applied.stderr}`);
    await waitForVersion(agent, port, adminTls);
    const configured: number[] = [];
    for (let i = 0; i < coldStartRuns; i++) {
      await stopAgent(agent.child);
      const run = await timeColdStart(stateDir, port, adminTls);
      configured.push(run.ms);
      agent = run.agent;
    }

    await sleep(idleSettleMs);
    const idleRss = await rssMb(agent.pid);

    const api = connectApi(agent.endpoint, adminTls);
    let gets: number[];
    try {
      gets = await getLatencies(api);
    } finally {
      api.close();
    }
    const watch = await watchRate(agent, adminTls);
    const loadedRss = await rssMb(agent.pid);
    await stopAgent(agent.child);

    const coldStartMs = round(percentile(maintenance, 50), 1);
    const coldStartConfiguredMs = round(percentile(configured, 50), 1);
    const idleRssMb = round(idleRss, 1);
    const getP50Ms = round(percentile(gets, 50));
    const getP99Ms = round(percentile(gets, 99));
    const watchEventsPerSec = Math.round(watch.eventsPerSec);
    const watchAgentCpuUsPerEvent = Math.round(watch.agentCpuUsPerEvent);
    const rssAfterLoadMb = round(loadedRss, 1);
    const figures: Figure[] = [
      {
        key: "coldStartMs",
        label: "cold start, fresh state dir: spawn → TLS Version answers (median of 5)",
        value: coldStartMs,
        unit: "ms",
        target: { value: 300, higherIsBetter: false },
      },
      {
        key: "coldStartConfiguredMs",
        label: "cold start, configured state dir: spawn → mTLS Version answers (median of 5)",
        value: coldStartConfiguredMs,
        unit: "ms",
      },
      {
        key: "idleRssMb",
        label: `RSS of the configured agent, ${idleSettleMs / 1000} s idle after start`,
        value: idleRssMb,
        unit: "MB",
        target: { value: 80, higherIsBetter: false },
      },
      {
        key: "getP50Ms",
        label: `ResourceService.Get over mTLS, ${getCalls.toLocaleString("en")} sequential, p50`,
        value: getP50Ms,
        unit: "ms",
      },
      {
        key: "getP99Ms",
        label: `ResourceService.Get over mTLS, ${getCalls.toLocaleString("en")} sequential, p99`,
        value: getP99Ms,
        unit: "ms",
        target: { value: 5, higherIsBetter: false },
      },
      {
        key: "watchEventsPerSec",
        label: `ResourceService.Watch events received, ${watchWriters} Update writers`,
        value: watchEventsPerSec,
        unit: "events/s",
      },
      {
        key: "watchAgentCpuUsPerEvent",
        label: "agent CPU per update + its watch event",
        value: watchAgentCpuUsPerEvent,
        unit: "µs",
      },
      {
        key: "rssAfterLoadMb",
        label: "RSS of the agent after the Get and Watch runs",
        value: rssAfterLoadMb,
        unit: "MB",
      },
    ];
    printFigures("agent", figures);
    process.stdout.write(
      "cold start = process spawn, Node start-up, loading the CLI and agent modules (TypeScript\n" +
        "stripped at load), opening the state, controllers, API listen and one Version call.\n" +
        `Agent and bench share this machine: ${cpus().length} CPUs, load average ${loadBefore.toFixed(1)} before the run.\n`,
    );
    return {
      coldStartMs,
      coldStartConfiguredMs,
      idleRssMb,
      getP50Ms,
      getP99Ms,
      watchEventsPerSec,
      watchAgentCpuUsPerEvent,
      rssAfterLoadMb,
    };
  } finally {
    await Promise.all([...live].map(stopAgent));
    await rm(dir, { recursive: true, force: true });
  }
}
