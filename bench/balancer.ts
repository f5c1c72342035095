// API balancer benchmark: the same load through haproxy (TCP mode, an equivalent config) and
// through Plinth's balancer, in one run, against the same upstream processes on 127.0.20.x.
// Each proxy runs in its own process; the load comes from this one. Figures: bulk MB/s and short
// connections per second (each as a ratio ours / haproxy's), p50 latency added over a direct
// connection, and the time from an upstream's death to the first good new connection.
//
// The file also holds the child processes' code: PLINTH_BENCH_ROLE=upstream|plinth runs one.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startBalancer } from "../src/balancer/index.ts";
import {
  checkPrerequisites,
  findBinary,
  installHint,
  installPackages,
  isRoot,
  selectPrerequisites,
} from "../src/doctor/doctor.ts";
import { freePort } from "../src/testing/free-port.ts";
import { createSandbox } from "../src/testing/sandbox.ts";
import { type BenchOptions, type Figure, percentile, printFigures, round } from "./harness.ts";

const upstreamHosts = ["127.0.20.1", "127.0.20.2", "127.0.20.3"];
const bulkStreams = 4;
const bulkMs = 1000;
const shortConcurrency = 32;
const shortMs = 1000;
const warmupMs = 200;
const pingPongs = 2000;
const rounds = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Child processes

/** An upstream: echoes, or after a first chunk starting with BULK streams bytes until closed. */
async function runUpstream(host: string, port: number): Promise<void> {
  const block = Buffer.alloc(256 * 1024, 0x61);
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      if (first.subarray(0, 4).toString() === "BULK") {
        const pump = () => {
          while (!socket.destroyed && socket.write(block)) {}
        };
        socket.on("drain", pump);
        pump();
        return;
      }
      socket.write(first);
      socket.on("data", (d: Buffer) => socket.write(d));
    });
  });
  server.listen({ host, port, backlog: 4096 }, () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
}

async function runPlinth(upstreams: string[], dataPath: "node" | "kernel"): Promise<void> {
  const balancer = await startBalancer({ host: "127.0.0.1", port: 0, upstreams, dataPath });
  process.stdout.write(`${JSON.stringify({ port: balancer.address.port })}\n`);
  process.once("SIGTERM", () => void balancer.close().then(() => process.exit(0)));
}

/**
 * The floor of Node's own net stack, for reference: a bare proxy (round-robin, `net` sockets and
 * `data` events, no health, choice, timers or metrics). What Plinth adds is the gap above it.
 */
async function runBare(upstreams: string[]): Promise<void> {
  const targets = upstreams.map((u) => ({
    host: u.slice(0, u.lastIndexOf(":")),
    port: Number(u.slice(u.lastIndexOf(":") + 1)),
  }));
  let next = 0;
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
    const upstream = connect({ ...targets[next++ % targets.length]!, noDelay: true, allowHalfOpen: true });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    upstream.once("connect", () => {
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on("data", (d: Buffer) => {
          if (!to.write(d)) from.pause();
        });
        to.on("drain", () => from.resume());
        from.on("end", () => to.end());
      }
      client.resume();
    });
  });
  server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
}

const role = process.env.PLINTH_BENCH_ROLE;
if (role === "upstream") await runUpstream(process.env.BENCH_HOST!, Number(process.env.BENCH_PORT));
if (role === "plinth") await runPlinth(process.env.BENCH_UPSTREAMS!.split(","), "node");
if (role === "kernel") await runPlinth(process.env.BENCH_UPSTREAMS!.split(","), "kernel");
if (role === "bare") await runBare(process.env.BENCH_UPSTREAMS!.split(","));

const self = fileURLToPath(import.meta.url);
const children = new Set<ChildProcess>();

/** Starts this file in a role and waits for the port it prints. */
async function spawnRole(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [self], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`bench child ${JSON.stringify(env)} exited with ${code}`)));
  });
  return { child, port: (JSON.parse(first) as { port: number }).port };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await exited;
}

// ---------------------------------------------------------------------------------------------
// haproxy

/** haproxy must be there: `plinth doctor` installs it (as root) or says how. */
async function haproxyPath(): Promise<string> {
  const list = selectPrerequisites(["bench"]).filter((p) => ["haproxy", "nft"].includes(p.binary));
  let checks = await checkPrerequisites(list);
  let missing = checks.filter((c) => !c.found);
  if (missing.length > 0 && isRoot()) {
    await installPackages([...new Set(missing.map((m) => m.aptPackage))], {
      log: (line) => process.stderr.write(`bench balancer: ${line}\n`),
    });
    checks = await checkPrerequisites(list);
    missing = checks.filter((c) => !c.found);
  }
  if (missing.length > 0) {
    throw new Error(
      `bench balancer: ${missing.map((m) => m.binary).join(", ")} missing; run 'npx plinth doctor ` +
        `--feature bench --install' as root (or: ${installHint(missing)})`,
    );
  }
  return checks.find((c) => c.binary === "haproxy")!.path!;
}

/**
 * The same behaviour as Plinth's balancer: TCP, round-robin, connect checks every 1 s with a
 * 500 ms timeout, out after 1 failure and back after 2 successes, a failed connect retried on
 * another server. One thread, like Node's event loop; no logging, chroot, user or daemon mode.
 */
function haproxyConfig(port: number, upstreams: readonly string[], threads: number): string {
  return `global
  nbthread ${threads}
  maxconn 8000

defaults
  mode tcp
  timeout connect 500ms
  timeout client 10m
  timeout server 10m
  timeout client-fin 60s
  timeout server-fin 60s
  retries 2
  option redispatch 1

frontend bench
  bind 127.0.0.1:${port}
  default_backend upstreams

backend upstreams
  balance roundrobin
  default-server check inter 1s fall 1 rise 2
${upstreams.map((u, i) => `  server u${i + 1} ${u}`).join("\n")}
`;
}

async function startHaproxy(path: string, dir: string, upstreams: readonly string[], threads: number) {
  const port = await freePort();
  const config = join(dir, "haproxy.cfg");
  await writeFile(config, haproxyConfig(port, upstreams, threads));
  // -db: stay in the foreground, no daemon; -q: quiet. Stopped with SIGTERM at the end.
  const child = spawn(path, ["-f", config, "-db", "-q"], { stdio: ["ignore", "ignore", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`bench balancer: haproxy exited with ${child.exitCode}`);
    if (await canConnect(port)) return { child, port };
    if (i > 200) throw new Error("bench balancer: haproxy did not start listening within 4 s");
    await sleep(20);
  }
}

function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Load

/**
 * `bulkStreams` downloads at once; MB/s received after a warm-up. The sockets read into one
 * reused buffer (`onread`), so that the load generator spends little and the proxy is measured.
 */
async function bulkMBps(port: number, host = "127.0.0.1"): Promise<number> {
  let bytes = 0;
  let counting = false;
  const sink = Buffer.allocUnsafe(256 * 1024);
  const onread = {
    buffer: sink,
    callback: (n: number) => {
      if (counting) bytes += n;
      return true;
    },
  };
  const sockets = await Promise.all(
    Array.from({ length: bulkStreams }, async () => {
      const s = await open(port, host, onread);
      s.write("BULK");
      return s;
    }),
  );
  await sleep(warmupMs);
  counting = true;
  const start = performance.now();
  await sleep(bulkMs);
  counting = false;
  const secs = (performance.now() - start) / 1000;
  for (const s of sockets) s.destroy();
  return bytes / secs / 1e6;
}

function open(
  port: number,
  host = "127.0.0.1",
  onread?: { buffer: Buffer; callback: (n: number) => boolean },
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true, ...(onread ? { onread } : {}) });
    s.once("error", reject);
    s.once("connect", () => {
      s.off("error", reject);
      s.on("error", () => {});
      resolve(s);
    });
  });
}

/** One short connection: connect, send 4 bytes, read them back, close. */
function shortRequest(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, noDelay: true });
    let ok = false;
    s.once("connect", () => s.write("ping"));
    s.once("data", () => {
      ok = true;
      s.destroy();
    });
    s.once("error", () => {});
    s.once("close", () => resolve(ok));
  });
}

/** CPU time (user + system) a process has used, µs; Linux counts it in 1/100 s ticks. */
async function cpuUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Short connections per second, `shortConcurrency` at a time, after a warm-up; with `pid`, also
 * the CPU that process spent per connection in the counted window.
 */
async function shortRps(
  port: number,
  host = "127.0.0.1",
  pid?: number,
): Promise<{ rps: number; failed: number; cpuUsPerConnection: number }> {
  let done = 0;
  let failed = 0;
  let counting = false;
  let running = true;
  const loops = Array.from({ length: shortConcurrency }, async () => {
    while (running) {
      const ok = await shortRequest(port, host);
      if (!counting) continue;
      if (ok) done++;
      else failed++;
    }
  });
  await sleep(warmupMs);
  const cpuBefore = pid === undefined ? 0 : await cpuUs(pid);
  counting = true;
  const start = performance.now();
  await sleep(shortMs);
  counting = false;
  const secs = (performance.now() - start) / 1000;
  const cpu = pid === undefined ? 0 : (await cpuUs(pid)) - cpuBefore;
  running = false;
  await Promise.all(loops);
  return { rps: done / secs, failed, cpuUsPerConnection: done > 0 ? cpu / done : 0 };
}

/** One round trip of 32 bytes on an open connection, µs. */
function roundTripUs(s: Socket, payload: Buffer): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer) => {
      got += d.length;
      if (got < payload.length) return;
      s.off("data", onData);
      resolve((performance.now() - t0) * 1000);
    };
    s.on("data", onData);
    s.write(payload);
  });
}

/**
 * Median round trip on one open connection to each target, µs. The targets take turns, one
 * round trip each, so that all see the same machine: how fast an idle CPU wakes up moves these
 * figures more than any proxy does, and it changes from one second to the next.
 */
async function pingPongP50Us(targets: readonly { port: number; host?: string }[]): Promise<number[]> {
  const sockets = await Promise.all(targets.map((t) => open(t.port, t.host)));
  const payload = Buffer.alloc(32, 0x62);
  const samples = targets.map(() => [] as number[]);
  for (let i = 0; i < pingPongs + 200; i++) {
    for (let k = 0; k < sockets.length; k++) {
      const j = (i + k) % sockets.length;
      const us = await roundTripUs(sockets[j]!, payload);
      if (i >= 200) samples[j]!.push(us);
    }
  }
  for (const s of sockets) s.destroy();
  return samples.map((list) => percentile(list, 50));
}

/**
 * Short connections back to back from 4 loops while one upstream is SIGKILLed: the time from the
 * kill to the first successful connection started after the last failed one.
 */
async function failoverMs(port: number, victim: ChildProcess): Promise<{ ms: number; failed: number }> {
  const results: { start: number; end: number; ok: boolean }[] = [];
  let running = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const start = performance.now();
      const ok = await shortRequest(port);
      results.push({ start, end: performance.now(), ok });
    }
  });
  await sleep(300);
  const killedAt = performance.now();
  victim.kill("SIGKILL");
  await sleep(1500);
  running = false;
  await Promise.all(loops);
  const after = results.filter((r) => r.start >= killedAt);
  const failures = after.filter((r) => !r.ok);
  const lastFailedStart = Math.max(killedAt, ...failures.map((r) => r.start));
  const firstGood = after
    .filter((r) => r.ok && r.start >= lastFailedStart)
    .reduce((min, r) => Math.min(min, r.end), Number.POSITIVE_INFINITY);
  return { ms: firstGood - killedAt, failed: failures.length };
}

// ---------------------------------------------------------------------------------------------

function threadsArg(args: readonly string[]): number {
  const arg = args.find((a) => a.startsWith("--haproxy-threads="));
  const n = arg ? Number(arg.split("=")[1]) : 1;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `bench balancer: '--haproxy-threads' must be an integer >= 1, current value is ${arg}`,
    );
  }
  return n;
}

/** The kernel data path needs root, nft, and a network namespace of the benchmark's own. */
async function kernelUnavailable(): Promise<string | undefined> {
  if (!isRoot()) return "needs root";
  for (const bin of ["nft", "unshare", "nsenter", "ip"]) {
    if (!(await findBinary(bin))) return `needs ${bin}: run 'npx plinth doctor --feature bench --install'`;
  }
  return undefined;
}

/**
 * As root, everything (upstreams, proxies, load) runs in a sandbox the benchmark creates, so that
 * the kernel data path's nftables table is never the machine's own; otherwise on the machine,
 * without the kernel path.
 */
export async function balancerBench(options: BenchOptions): Promise<Record<string, number>> {
  const threads = threadsArg(options.args);
  const haproxy = await haproxyPath();
  const unavailable = await kernelUnavailable();
  if (unavailable !== undefined) {
    process.stderr.write(`bench balancer: kernel data path not measured: ${unavailable}\n`);
    return measure(haproxy, threads, false);
  }
  const box = await createSandbox({ name: "bench-balancer" });
  try {
    const resultFile = join(box.dir, "result.json");
    const inner = box.spawn(process.execPath, ["--disable-warning=ExperimentalWarning", self], {
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        PLINTH_BENCH_ROLE: "measure",
        BENCH_HAPROXY: haproxy,
        BENCH_THREADS: String(threads),
        BENCH_RESULT: resultFile,
      },
    });
    const code = await new Promise((resolve) => inner.once("exit", resolve));
    if (code !== 0) throw new Error(`bench balancer: the run in the sandbox exited with ${code}`);
    return JSON.parse(await readFile(resultFile, "utf8")) as Record<string, number>;
  } finally {
    await box.destroy();
  }
}

if (role === "measure") {
  const result = await measure(process.env.BENCH_HAPROXY!, Number(process.env.BENCH_THREADS), true);
  await writeFile(process.env.BENCH_RESULT!, JSON.stringify(result));
  process.exit(0);
}

type Contender = "theirs" | "ours" | "kernel" | "bare";

async function measure(
  haproxy: string,
  threads: number,
  withKernel: boolean,
): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), "plinth-bench-balancer-"));
  try {
    const startUpstream = async (host: string, port = 0) => ({
      host,
      ...(await spawnRole({ PLINTH_BENCH_ROLE: "upstream", BENCH_HOST: host, BENCH_PORT: String(port) })),
    });
    const ups = await Promise.all(upstreamHosts.map((host) => startUpstream(host)));
    const keys = ups.map((u) => `${u.host}:${u.port}`);
    const theirs = await startHaproxy(haproxy, dir, keys, threads);
    const ours = await spawnRole({ PLINTH_BENCH_ROLE: "plinth", BENCH_UPSTREAMS: keys.join(",") });
    const bare = await spawnRole({ PLINTH_BENCH_ROLE: "bare", BENCH_UPSTREAMS: keys.join(",") });
    const kernel = withKernel
      ? await spawnRole({ PLINTH_BENCH_ROLE: "kernel", BENCH_UPSTREAMS: keys.join(",") })
      : undefined;
    const contenders = { theirs, ours, bare, ...(kernel ? { kernel } : {}) } as Record<
      Contender,
      { child: ChildProcess; port: number }
    >;
    const names = (Object.keys(contenders) as Contender[]).sort();
    await sleep(1200); // every balancer has checked every upstream
    // Warm-up, not counted: a Node process runs its hot paths unoptimised for the first thousands
    // of connections, and a long-running balancer is measured here, not a cold start.
    for (const who of names) {
      await shortRps(contenders[who].port);
      await bulkMBps(contenders[who].port);
    }

    // The load generator's own ceiling: straight to one upstream, no proxy in between.
    const directMBps = await bulkMBps(ups[0]!.port, ups[0]!.host);
    const directRps = (await shortRps(ups[0]!.port, ups[0]!.host)).rps;
    const directLat: number[] = [];
    const samples = Object.fromEntries(
      names.map((n) => [
        n,
        { mbps: [] as number[], rps: [] as number[], lat: [] as number[], cpu: [] as number[] },
      ]),
    ) as Record<Contender, { mbps: number[]; rps: number[]; lat: number[]; cpu: number[] }>;
    const ratios = {
      mbps: [] as number[],
      rps: [] as number[],
      bareRps: [] as number[],
      kernelMbps: [] as number[],
      kernelRps: [] as number[],
    };
    let shortFailures = 0;
    const latencyOf: Contender[] = names.filter((n) => n !== "bare");
    // Rounds in which every proxy takes its turn (the order rotating), so that a burst of other
    // work on the machine hits all alike; the ratios are medians of the rounds' ratios.
    for (let r = 0; r < rounds; r++) {
      const [direct, ...via] = await pingPongP50Us([
        { port: ups[0]!.port, host: ups[0]!.host },
        ...latencyOf.map((n) => ({ port: contenders[n].port })),
      ]);
      directLat.push(direct!);
      for (const [i, n] of latencyOf.entries()) samples[n].lat.push(via[i]!);
      const turns = names.map((_, i, all) => all[(i + r) % all.length]!);
      for (const who of turns) {
        const { port, child } = contenders[who];
        // The kernel path's process does no per-connection work: its CPU is not the figure.
        const short = await shortRps(port, "127.0.0.1", who === "kernel" ? undefined : child.pid);
        shortFailures += short.failed;
        samples[who].rps.push(short.rps);
        samples[who].cpu.push(short.cpuUsPerConnection);
        if (who === "bare") continue; // the floor is measured for short connections only
        samples[who].mbps.push(await bulkMBps(port));
      }
      ratios.mbps.push(samples.ours.mbps[r]! / samples.theirs.mbps[r]!);
      ratios.rps.push(samples.ours.rps[r]! / samples.theirs.rps[r]!);
      ratios.bareRps.push(samples.bare.rps[r]! / samples.theirs.rps[r]!);
      if (kernel) {
        ratios.kernelMbps.push(samples.kernel.mbps[r]! / samples.theirs.mbps[r]!);
        ratios.kernelRps.push(samples.kernel.rps[r]! / samples.theirs.rps[r]!);
      }
    }
    const median = (list: readonly number[]) => percentile(list, 50);
    const added = (n: Contender) => round(median(samples[n].lat.map((l, r) => l - directLat[r]!)), 1);
    // Each proxy loses an upstream while the others are up; the victim is restarted on its port
    // afterwards, and the next measurement waits until the balancers have it back (2 checks).
    const failover = async (n: Contender, victim: number) => {
      const measured = await failoverMs(contenders[n].port, ups[victim]!.child);
      ups[victim] = await startUpstream(ups[victim]!.host, ups[victim]!.port);
      await sleep(2500);
      return measured;
    };
    const theirFailover = await failover("theirs", 2);
    const ourFailover = await failover("ours", 1);
    const kernelFailover = kernel ? await failover("kernel", 0) : undefined;

    const result: Record<string, number> = {
      throughputRatioVsHaproxy: round(median(ratios.mbps), 3),
      rpsRatioVsHaproxy: round(median(ratios.rps), 3),
      addedP50LatencyUs: added("ours"),
      failoverMs: round(ourFailover.ms, 1),
      plinthBulkMBps: Math.round(median(samples.ours.mbps)),
      haproxyBulkMBps: Math.round(median(samples.theirs.mbps)),
      plinthShortRps: Math.round(median(samples.ours.rps)),
      haproxyShortRps: Math.round(median(samples.theirs.rps)),
      directBulkMBps: Math.round(directMBps),
      directShortRps: Math.round(directRps),
      bareNodeRpsRatioVsHaproxy: round(median(ratios.bareRps), 3),
      plinthCpuUsPerConnection: round(median(samples.ours.cpu), 1),
      haproxyCpuUsPerConnection: round(median(samples.theirs.cpu), 1),
      bareNodeCpuUsPerConnection: round(median(samples.bare.cpu), 1),
      haproxyAddedP50LatencyUs: added("theirs"),
      directP50LatencyUs: round(median(directLat), 1),
      haproxyFailoverMs: round(theirFailover.ms, 1),
      failoverFailedConnections: ourFailover.failed,
      haproxyFailoverFailedConnections: theirFailover.failed,
      shortConnectionFailures: shortFailures,
    };
    if (kernel && kernelFailover) {
      Object.assign(result, {
        kernelThroughputRatioVsHaproxy: round(median(ratios.kernelMbps), 3),
        kernelRpsRatioVsHaproxy: round(median(ratios.kernelRps), 3),
        kernelAddedP50LatencyUs: added("kernel"),
        kernelFailoverMs: round(kernelFailover.ms, 1),
        kernelBulkMBps: Math.round(median(samples.kernel.mbps)),
        kernelShortRps: Math.round(median(samples.kernel.rps)),
        kernelFailoverFailedConnections: kernelFailover.failed,
      });
    }
    const figures: Figure[] = [
      {
        key: "throughputRatioVsHaproxy",
        label: `Node path: bulk MB/s, ours / haproxy (${result.plinthBulkMBps} / ${result.haproxyBulkMBps})`,
        value: result.throughputRatioVsHaproxy!,
        unit: "x",
        target: { value: 0.9, higherIsBetter: true },
      },
      {
        key: "rpsRatioVsHaproxy",
        label:
          `Node path: short connections/s, ours / haproxy (${result.plinthShortRps} / ${result.haproxyShortRps}; ` +
          `CPU µs per connection ${result.plinthCpuUsPerConnection} / ${result.haproxyCpuUsPerConnection}, ` +
          `bare Node proxy ${result.bareNodeCpuUsPerConnection})`,
        value: result.rpsRatioVsHaproxy!,
        unit: "x",
        target: { value: 0.9, higherIsBetter: true },
      },
      {
        key: "bareNodeRpsRatioVsHaproxy",
        label: "short connections/s, bare Node proxy / haproxy (the floor of Node's net stack)",
        value: result.bareNodeRpsRatioVsHaproxy!,
        unit: "x",
      },
      {
        key: "addedP50LatencyUs",
        label: `Node path: added p50 latency (haproxy ${result.haproxyAddedP50LatencyUs} µs, direct ${result.directP50LatencyUs} µs)`,
        value: result.addedP50LatencyUs!,
        unit: "µs",
        target: { value: 100, higherIsBetter: false },
      },
      {
        key: "failoverMs",
        label: `Node path: upstream killed -> good new connection (haproxy ${result.haproxyFailoverMs} ms)`,
        value: result.failoverMs!,
        unit: "ms",
        target: { value: 1000, higherIsBetter: false },
      },
    ];
    if (kernel) {
      figures.push(
        {
          key: "kernelThroughputRatioVsHaproxy",
          label: `kernel path: bulk MB/s, ours / haproxy (${result.kernelBulkMBps} / ${result.haproxyBulkMBps})`,
          value: result.kernelThroughputRatioVsHaproxy!,
          unit: "x",
          target: { value: 0.9, higherIsBetter: true },
        },
        {
          key: "kernelRpsRatioVsHaproxy",
          label: `kernel path: short connections/s, ours / haproxy (${result.kernelShortRps} / ${result.haproxyShortRps})`,
          value: result.kernelRpsRatioVsHaproxy!,
          unit: "x",
          target: { value: 0.9, higherIsBetter: true },
        },
        {
          key: "kernelAddedP50LatencyUs",
          label: "kernel path: added p50 latency",
          value: result.kernelAddedP50LatencyUs!,
          unit: "µs",
          target: { value: 100, higherIsBetter: false },
        },
        {
          key: "kernelFailoverMs",
          label: `kernel path: upstream killed -> good new connection (${result.kernelFailoverFailedConnections} failed meanwhile)`,
          value: result.kernelFailoverMs!,
          unit: "ms",
          target: { value: 1000, higherIsBetter: false },
        },
      );
    }
    printFigures(`balancer (haproxy nbthread ${threads}, ${upstreamHosts.length} upstreams)`, figures);
    return result;
  } finally {
    await Promise.all([...children].map((c) => stop(c)));
    await rm(dir, { recursive: true, force: true });
  }
}
