// Discovery service benchmark: one `plinth discovery serve` process holding 1,000 clusters × 10
// affiliates, with one watcher per cluster (1,000 watchers). Two worker threads load it over
// plain gRPC on raw HTTP/2 (requests pre-encoded, so the clients cost as little as possible):
// - updaters: sustained AffiliateUpdate with new data each time (so every update reaches the
//   cluster's watcher) → updatesPerSec;
// - watchers: every Watch stream; each update carries its send time in its data, each watcher
//   records update → delivery latency → watchP99Ms (measured at a steady offered load, below
//   saturation, so it is the service's latency and not a queue the benchmark built);
// and the server's peak resident memory → rssMb. serverCpuUsPerUpdate (the server's CPU time over
// the sustained run divided by its updates) varies far less than the rates when other work shares
// the machine: 1e6 / it is the rate one free core would sustain.
import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AffiliateUpdateRequestSchema,
  WatchRequestSchema,
} from "../src/api/gen/sidero/discovery/server/cluster_pb.ts";
import { type DiscoveryProcess, startDiscoveryProcess } from "../src/discovery/testing/discovery-process.ts";
import { type BenchOptions, type Figure, percentile, printFigures, round } from "./harness.ts";

const clusters = 1000;
const affiliatesPerCluster = 10;
const dataBytes = 256;
const sessions = 8;
const inFlight = 256;
const throughputMs = 6000;
const latencyRate = 5000;
const latencyMs = 4000;

const wallClock = () => performance.timeOrigin + performance.now();
const clusterId = (c: number) => `bench-cluster-${c.toString().padStart(4, "0")}`;

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

type Command =
  | { readonly type: "load" }
  | { readonly type: "run"; readonly ms: number; readonly rate?: number }
  | { readonly type: "record"; readonly on: boolean }
  | { readonly type: "count" }
  | { readonly type: "stop" };

/** An AffiliateUpdate per affiliate, with the offset of the 8 bytes where its send time goes. */
function updateRequests(): { frame: Buffer; stampAt: number }[] {
  const requests: { frame: Buffer; stampAt: number }[] = [];
  for (let c = 0; c < clusters; c++) {
    for (let a = 0; a < affiliatesPerCluster; a++) {
      const data = Buffer.alloc(dataBytes, 0x5a);
      data.writeUInt32BE(c * affiliatesPerCluster + a, 8);
      const encoded = frame(
        toBinary(
          AffiliateUpdateRequestSchema,
          create(AffiliateUpdateRequestSchema, {
            clusterId: clusterId(c),
            affiliateId: `node-${a}`,
            affiliateData: data,
            affiliateEndpoints: [Buffer.alloc(16, c & 0xff), Buffer.alloc(16, a)],
            ttl: { seconds: 1800n, nanos: 0 },
          }),
        ),
      );
      requests.push({ frame: encoded, stampAt: encoded.indexOf(data) });
    }
  }
  return requests;
}

/** Worker: sends AffiliateUpdates as fast as `inFlight` allows, or at a given rate. */
async function updaters(url: string): Promise<void> {
  const requests = updateRequests();
  const pool = Array.from({ length: sessions }, () => http2.connect(url));
  let next = 0;
  let failures = 0;
  function send(): Promise<void> {
    const r = requests[next++ % requests.length]!;
    r.frame.writeDoubleLE(wallClock(), r.stampAt);
    const req = pool[next % sessions]!.request({
      ":method": "POST",
      ":path": "/sidero.discovery.server.Cluster/AffiliateUpdate",
      "content-type": "application/grpc",
      te: "trailers",
    });
    return new Promise((resolve) => {
      req.on("trailers", (t) => {
        if (t["grpc-status"] !== "0") failures++;
      });
      req.on("data", () => {});
      req.on("close", resolve);
      req.on("error", () => {
        failures++;
      });
      req.end(r.frame);
    });
  }
  async function run(ms: number, rate?: number): Promise<{ done: number; failures: number; secs: number }> {
    const start = performance.now();
    let done = 0;
    failures = 0;
    if (rate === undefined) {
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() - start < ms) {
            await send();
            done++;
          }
        }),
      );
    } else {
      const pending = new Set<Promise<void>>();
      while (performance.now() - start < ms) {
        const due = Math.floor(((performance.now() - start) * rate) / 1000);
        while (done < due) {
          const p: Promise<void> = send().then(() => {
            pending.delete(p);
          });
          pending.add(p);
          done++;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
    }
    return { done, failures, secs: (performance.now() - start) / 1000 };
  }
  parentPort!.on("message", async (command: Command) => {
    if (command.type === "load") {
      const start = performance.now();
      const total = clusters * affiliatesPerCluster;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < total) await send();
        }),
      );
      parentPort!.postMessage({ type: "loaded", ms: performance.now() - start, failures });
    } else if (command.type === "run") {
      parentPort!.postMessage({ type: "ran", ...(await run(command.ms, command.rate)) });
    } else if (command.type === "stop") {
      for (const s of pool) s.close();
      parentPort!.close();
    }
  });
}

/** Worker: one Watch per cluster; records update → delivery latency while told to. */
async function watchers(url: string): Promise<void> {
  const pool = Array.from({ length: Math.ceil(clusters / 100) }, () => http2.connect(url));
  let recording = false;
  let delivered = 0;
  const samples: number[] = [];
  let snapshots = 0;
  const ready = Promise.withResolvers<void>();
  for (let c = 0; c < clusters; c++) {
    const req = pool[c % pool.length]!.request({
      ":method": "POST",
      ":path": "/sidero.discovery.server.Cluster/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.end(frame(toBinary(WatchRequestSchema, create(WatchRequestSchema, { clusterId: clusterId(c) }))));
    let buffered: Buffer = Buffer.alloc(0);
    let first = true;
    req.on("data", (chunk: Buffer) => {
      const at = wallClock();
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
        const length = buffered.readUInt32BE(1);
        const message = buffered.subarray(5, 5 + length);
        buffered = buffered.subarray(5 + length);
        if (first) {
          first = false;
          if (++snapshots === clusters) ready.resolve();
          continue;
        }
        delivered++;
        const sent = sentAt(message);
        if (recording && sent !== undefined) samples.push(at - sent);
      }
    });
    req.on("trailers", (t) => {
      if (t["grpc-status"] !== "0")
        process.stderr.write(`bench: watch ended with ${t["grpc-status"]} ${t["grpc-message"]}\n`);
    });
  }
  await ready.promise;
  parentPort!.postMessage({ type: "watching" });
  parentPort!.on("message", (command: Command) => {
    if (command.type === "count") {
      parentPort!.postMessage({ type: "counted", samples: samples.length });
    } else if (command.type === "record") {
      recording = command.on;
      if (!command.on) {
        parentPort!.postMessage({ type: "samples", samples: samples.splice(0), delivered });
      }
    } else if (command.type === "stop") {
      for (const s of pool) s.destroy();
      parentPort!.close();
    }
  });
}

/** The send time in an update's data: WatchResponse.affiliates[0].data[0..8], read without a full decode. */
function sentAt(message: Buffer): number | undefined {
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = message[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (at < message.length) {
    const tag = varint();
    const length = varint();
    if (tag !== 0x0a) return undefined; // field 1, affiliates; a deletion carries no data
    const end = at + length;
    while (at < end) {
      const inner = varint();
      const size = varint();
      if (inner === 0x12 && size >= 8) return message.readDoubleLE(at);
      at += size;
    }
  }
  return undefined;
}

function startWorker(role: "updaters" | "watchers", url: string): Worker {
  return new Worker(new URL(import.meta.url), { workerData: { role, url } });
}

function reply<T>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      worker.off("message", onMessage);
      worker.off("error", reject);
      resolve(m as T);
    };
    worker.on("message", onMessage);
    worker.once("error", reject);
  });
}

/** CPU time the process has used so far (user + system), in microseconds. */
async function cpuMicros(pid: number | undefined): Promise<number> {
  // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name; clock ticks of 1/100 s.
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function peakRssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1]);
  return kb / 1024;
}

export async function discoveryBench(options: BenchOptions): Promise<Record<string, number>> {
  let server: DiscoveryProcess | undefined;
  const workers: Worker[] = [];
  try {
    server = await startDiscoveryProcess(["--rate-limit", "0", "--log-level", "warn"]);
    const watcher = startWorker("watchers", server.url);
    const updater = startWorker("updaters", server.url);
    workers.push(watcher, updater);
    await reply(watcher, "watching");
    updater.postMessage({ type: "load" } satisfies Command);
    const loaded = await reply<{ ms: number; failures: number }>(updater, "loaded");
    if (loaded.failures > 0) throw new Error(`${loaded.failures} updates failed while loading`);

    const cpuBefore = await cpuMicros(server.pid);
    updater.postMessage({ type: "run", ms: throughputMs } satisfies Command);
    const sustained = await reply<{ done: number; failures: number; secs: number }>(updater, "ran");
    const cpuPerUpdateUs = ((await cpuMicros(server.pid)) - cpuBefore) / sustained.done;
    if (sustained.failures > 0) throw new Error(`${sustained.failures} updates failed under load`);

    await new Promise((r) => setTimeout(r, 500));
    watcher.postMessage({ type: "record", on: true } satisfies Command);
    updater.postMessage({ type: "run", ms: latencyMs, rate: latencyRate } satisfies Command);
    const paced = await reply<{ done: number; failures: number }>(updater, "ran");
    // Every paced update reaches its watcher; on a busy machine the last ones may take a while.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      watcher.postMessage({ type: "count" } satisfies Command);
      if ((await reply<{ samples: number }>(watcher, "counted")).samples >= paced.done) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    watcher.postMessage({ type: "record", on: false } satisfies Command);
    const { samples } = await reply<{ samples: number[] }>(watcher, "samples");
    if (samples.length < paced.done * 0.99) {
      throw new Error(`watchers saw ${samples.length} of ${paced.done} paced updates`);
    }
    const rssMb = await peakRssMb(server.pid);

    const figures: Figure[] = [
      {
        key: "updatesPerSec",
        label: `AffiliateUpdate sustained (${inFlight} in flight, ${clusters} watchers)`,
        value: Math.round(sustained.done / sustained.secs),
        unit: "/s",
        target: { value: 20_000, higherIsBetter: true },
      },
      {
        key: "serverCpuUsPerUpdate",
        label: "server CPU per update, its watch message included",
        value: round(cpuPerUpdateUs, 1),
        unit: "µs",
      },
      {
        key: "watchP99Ms",
        label: `update → watcher p99 (at ${latencyRate.toLocaleString("en")} updates/s)`,
        value: round(percentile(samples, 99), 2),
        unit: "ms",
        target: { value: 50, higherIsBetter: false },
      },
      {
        key: "watchP50Ms",
        label: "update → watcher p50",
        value: round(percentile(samples, 50), 2),
        unit: "ms",
      },
      {
        key: "rssMb",
        label: "server peak RSS",
        value: round(rssMb, 1),
        unit: "MB",
        target: { value: 500, higherIsBetter: false },
      },
      { key: "loadMs", label: "loading 10,000 affiliates", value: Math.round(loaded.ms), unit: "ms" },
    ];
    if (!options.json) printFigures("discovery", figures);
    return Object.fromEntries(figures.map((f) => [f.key, f.value]));
  } finally {
    for (const w of workers) w.postMessage({ type: "stop" } satisfies Command);
    await Promise.all(workers.map((w) => w.terminate()));
    await server?.kill("SIGTERM");
  }
}

if (!isMainThread) {
  const { role, url } = workerData as { role: "updaters" | "watchers"; url: string };
  await (role === "updaters" ? updaters(url) : watchers(url));
}
