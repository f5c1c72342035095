// Mesh benchmark (root): a local cluster with --with-mesh (1 control plane + 2 workers, flat
// topology), measured through the nodes' MeshPeerStatus resources and real traffic:
// - joinToFullMeshMs: a third worker accepts its config → every node, the new one included, has
//   every peer up (joinFromLaunchMs: from the start of its agent, boot included);
// - endpointChangeMs: worker-1's node address changes while the control plane pings worker-1's
//   mesh address every 20 ms → the first reply after the outage;
// - throughputRatio: iperf3 TCP from the control plane to worker-1 over the mesh address, divided
//   by the same over the plain veth (both sockets bound to eth0, so the mesh steering skips them;
//   the mesh's byte counters prove it), in the same run; without iperf3 a Node sender and receiver,
//   the plain run to the IPv6 link-local address (never steered). wireguard-go bounds it: reported.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Client, createClient } from "@connectrpc/connect";
import { createApiTransport } from "../src/api/client/api-transport.ts";
import { ResourceService } from "../src/api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { type ClientConfig, contextTls, selectContext } from "../src/config/client-config.ts";
import { checkPrerequisites, installHint, selectPrerequisites } from "../src/doctor/doctor.ts";
import { addWorker } from "../src/provision/add-node.ts";
import type { NodePlan } from "../src/provision/cluster-plan.ts";
import { createCluster } from "../src/provision/create-cluster.ts";
import { destroyCluster } from "../src/provision/destroy-cluster.ts";
import { type BenchOptions, type Figure, printFigures, round } from "./harness.ts";

const name = "bench-mesh";
const cidr = "10.241.0.0/24";

interface PeerStatus {
  readonly hostname: string;
  readonly address: string;
  readonly endpoint: string;
  readonly state: string;
  readonly rxBytes: number;
  readonly txBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, [...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/** Polls `check` every 50 ms; the time (performance.now()) it first held. */
async function whenTrue(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return performance.now();
    if (performance.now() > deadline) throw new Error(`mesh bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

function peerReader(clientConfig: ClientConfig) {
  const { context } = selectContext(clientConfig);
  const clients = new Map<string, { client: Client<typeof ResourceService>; close: () => void }>();
  const of = (node: NodePlan) => {
    let c = clients.get(node.ip);
    if (!c) {
      const api = createApiTransport({ url: `https://${node.ip}:50000`, tls: contextTls(context) });
      c = { client: createClient(ResourceService, api.transport), close: api.close };
      clients.set(node.ip, c);
    }
    return c.client;
  };
  return {
    async peers(node: NodePlan): Promise<PeerStatus[]> {
      const res = await of(node).list({ type: "MeshPeerStatus" }, { timeoutMs: 2000 });
      return (res.messages[0]?.resources ?? []).map(
        (r) => JSON.parse(new TextDecoder().decode(r.spec)) as PeerStatus,
      );
    },
    /** Closes the session to a node (before its address changes under it). */
    forget(node: NodePlan) {
      clients.get(node.ip)?.close();
      clients.delete(node.ip);
    },
    close() {
      for (const c of clients.values()) c.close();
    },
  };
}

/** Every node has every other node as a peer that is up. */
async function fullMesh(reader: ReturnType<typeof peerReader>, nodes: readonly NodePlan[]): Promise<boolean> {
  const views = await Promise.all(nodes.map((n) => reader.peers(n)));
  return views.every((peers, i) =>
    nodes.every((other, j) => i === j || peers.some((p) => p.hostname === other.name && p.state === "up")),
  );
}

/** One iperf3 TCP run from `from` to `to`:`port`; Mbit/s received. */
async function iperf(
  from: NodePlan,
  server: NodePlan,
  target: string,
  port: number,
  plain: boolean,
): Promise<number> {
  const bind = plain ? ["--bind-dev", "eth0"] : [];
  const srv = spawn(
    "ip",
    ["netns", "exec", server.netns, "iperf3", "-s", "-1", "-p", String(port), ...bind],
    {
      stdio: "ignore",
    },
  );
  try {
    await sleep(300);
    const out = await run("ip", [
      "netns",
      "exec",
      from.netns,
      "iperf3",
      "-c",
      target,
      "-p",
      String(port),
      "-t",
      "3",
      "-J",
      ...bind,
    ]);
    const report = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return report.end.sum_received.bits_per_second / 1e6;
  } finally {
    srv.kill("SIGKILL");
  }
}

/** Receiver: counts bytes until the sender closes, prints Mbit/s. Sender: writes for `seconds`. */
const receiverScript = `
const server = require("node:net").createServer((s) => {
  let bytes = 0; const t0 = process.hrtime.bigint();
  s.on("data", (c) => { bytes += c.length; });
  s.on("end", () => { console.log(String((bytes * 8) / (Number(process.hrtime.bigint() - t0) / 1e3))); process.exit(0); });
});
server.listen(Number(process.argv[1]), "::", () => console.log("listening"));`;
const senderScript = `
const [host, port, seconds] = process.argv.slice(1);
const chunk = Buffer.alloc(1 << 16, 0x5a);
const s = require("node:net").connect({ host, port: Number(port) }, () => {
  const end = Date.now() + Number(seconds) * 1000;
  const pump = () => { while (Date.now() < end) { if (!s.write(chunk)) return s.once("drain", pump); } s.end(); };
  pump();
});`;

/** The same with a Node TCP sender and receiver, where iperf3 is missing; Mbit/s received. */
async function nodeTcp(from: NodePlan, server: NodePlan, target: string, port: number): Promise<number> {
  const srv = spawn(
    "ip",
    ["netns", "exec", server.netns, process.execPath, "-e", receiverScript, String(port)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    const lines = createInterface({ input: srv.stdout! })[Symbol.asyncIterator]();
    await lines.next(); // listening
    await run("ip", [
      "netns",
      "exec",
      from.netns,
      process.execPath,
      "-e",
      senderScript,
      target,
      String(port),
      "3",
    ]);
    const result = await lines.next();
    return Number(result.value);
  } finally {
    srv.kill("SIGKILL");
  }
}

/** A node's IPv6 link-local address on eth0, scoped: never steered into the mesh. */
async function linkLocal(node: NodePlan): Promise<string> {
  const out = await run("ip", ["-n", node.netns, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
  const m = out.match(/inet6 (fe80::[0-9a-f:]+)\//);
  if (!m) throw new Error(`mesh bench: ${node.name} has no IPv6 link-local address on eth0`);
  return `${m[1]}%eth0`;
}

/**
 * Pings `target` from `from` every 20 ms; `change()` runs once replies flow; resolves with the ms
 * from the end of `change()` to the first reply that follows a lost one (0 when none was lost),
 * or with `giveUpMs` when traffic has not come back by then (reported as missed, not thrown, so
 * that the other figures of the run still print).
 */
const giveUpMs = 30_000;

async function outage(from: NodePlan, target: string, change: () => Promise<void>): Promise<number> {
  const ping: ChildProcess = spawn("ip", ["netns", "exec", from.netns, "ping", "-D", "-i", "0.02", target], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const replies: { at: number; seq: number }[] = [];
  createInterface({ input: ping.stdout! }).on("line", (line) => {
    const m = line.match(/^\[(\d+\.\d+)\].*icmp_seq=(\d+)/);
    if (m) replies.push({ at: Number(m[1]) * 1000, seq: Number(m[2]) });
  });
  try {
    const start = Date.now();
    while (replies.filter((r) => r.at > start).length < 10) {
      if (Date.now() - start > 10_000)
        throw new Error("mesh bench: no ping replies over the mesh before the change");
      await sleep(20);
    }
    await change();
    const changedAt = Date.now();
    const before = replies.filter((r) => r.at <= changedAt).at(-1)!;
    for (;;) {
      const after = replies.filter((r) => r.seq > before.seq);
      const gapAt = after.findIndex((r, i) => r.seq !== (i === 0 ? before.seq : after[i - 1]!.seq) + 1);
      if (after.length > 0 && gapAt < 0 && after.length > 25) return 0; // nothing lost
      if (gapAt >= 0) return Math.max(0, after[gapAt]!.at - changedAt);
      if (Date.now() - changedAt > giveUpMs) return giveUpMs;
      await sleep(20);
    }
  } finally {
    ping.kill("SIGTERM");
  }
}

export async function meshBench(options: BenchOptions): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0)
    throw new Error("the mesh benchmark needs root (network namespaces and bridges)");
  const checks = await checkPrerequisites(selectPrerequisites(["mesh", "cluster", "bench"]));
  const missing = checks.filter(
    (c) => !c.found && ["wg", "wireguard-go", "nft", "ip", "unshare", "etcd"].includes(c.binary),
  );
  // `--node-sender` measures with the Node sender even where iperf3 is installed.
  const withIperf =
    !options.args.includes("--node-sender") && checks.some((c) => c.binary === "iperf3" && c.found);
  if (missing.length > 0) {
    throw new Error(
      `the mesh benchmark needs ${missing.map((m) => m.binary).join(", ")}: ${installHint(missing)} (or 'npx plinth doctor --install')`,
    );
  }
  const home = await mkdtemp(join(tmpdir(), "plinth-bench-mesh-"));
  const previousDir = process.env.PLINTH_CLUSTERS_DIR;
  process.env.PLINTH_CLUSTERS_DIR = join(home, "clusters");
  let reader: ReturnType<typeof peerReader> | undefined;
  try {
    // `--nat`: the same across the nat topology (worker-1 and the joining worker behind the
    // second site's NAT router); the plain run then goes to worker-2, in the control plane's site.
    const nat = options.args.includes("--nat");
    const { record, clientConfig } = await createCluster({
      name,
      controlplanes: 1,
      workers: 2,
      cidr,
      topology: nat ? "nat" : "flat",
      withMesh: true,
      waitTimeoutMs: 120_000,
    });
    reader = peerReader(clientConfig);
    const [cp1, w1] = [record.nodes[0]!, record.nodes[1]!];
    await whenTrue("the first full mesh", 60_000, () => fullMesh(reader!, record.nodes));

    // Join: a new worker.
    const added = await addWorker(name);
    const nodes = [...record.nodes, added.node];
    const joinedAt = await whenTrue(`${added.node.name} up on every node`, 60_000, () =>
      fullMesh(reader!, nodes),
    );
    const joinToFullMeshMs = round(joinedAt - added.appliedAt, 0);
    const joinFromLaunchMs = round(joinedAt - added.launchedAt, 0);

    // Throughput, mesh then plain veth, between the same two nodes (flat).
    const peerOf = async (node: NodePlan) =>
      (await reader!.peers(cp1)).find((p) => p.hostname === node.name)!;
    const meshAddress = (await peerOf(w1)).address;
    const meshMbps = withIperf
      ? await iperf(cp1, w1, meshAddress, 5201, false)
      : await nodeTcp(cp1, w1, meshAddress, 5201);
    const plainPeer = nat ? record.nodes[2]! : w1;
    await sleep(2000); // MeshPeerStatus counters are read every second
    const meshBytesBefore = (await peerOf(plainPeer)).txBytes;
    const plainMbps = withIperf
      ? await iperf(cp1, plainPeer, plainPeer.ip, 5202, true)
      : await nodeTcp(cp1, plainPeer, await linkLocal(plainPeer), 5202);
    await sleep(2000);
    const meshBytesDuringPlain = (await peerOf(plainPeer)).txBytes - meshBytesBefore;
    const plainBytes = (plainMbps * 1e6 * 3) / 8;
    if (meshBytesDuringPlain > plainBytes / 20) {
      throw new Error(
        `mesh bench: the plain run went through the mesh (${meshBytesDuringPlain} of ~${Math.round(plainBytes)} bytes)`,
      );
    }
    const throughputRatio = round(meshMbps / plainMbps, 3);

    // Endpoint change: worker-1 moves to another address of its network (the one below the
    // host's address, which is the site's last in the nat topology).
    const site = record.sites[w1.site]!;
    const movedTo = nat
      ? site.hostIp.replace(/\d+$/, (last) => String(Number(last) - 1))
      : site.hostIp.replace(/\d+$/, "200");
    reader.forget(w1);
    const endpointChangeMs = round(
      await outage(cp1, meshAddress, async () => {
        // Old one out first: removing a primary address also removes the secondaries of its subnet.
        await run("ip", ["-n", w1.netns, "addr", "del", `${w1.ip}/${site.prefixLength}`, "dev", "eth0"]);
        await run("ip", ["-n", w1.netns, "addr", "add", `${movedTo}/${site.prefixLength}`, "dev", "eth0"]);
        // The default route leaves with the address it was reached by.
        if (w1.defaultGateway) {
          await run("ip", ["-n", w1.netns, "route", "replace", "default", "via", w1.defaultGateway]);
        }
      }),
      0,
    );

    const figures: Figure[] = [
      {
        key: "joinToFullMeshMs",
        label: "new node configured -> up on every node",
        value: joinToFullMeshMs,
        unit: "ms",
        target: { value: 3000, higherIsBetter: false },
      },
      {
        key: "joinFromLaunchMs",
        label: "  same, from its agent's start",
        value: joinFromLaunchMs,
        unit: "ms",
      },
      {
        key: "endpointChangeMs",
        label: `node address change -> traffic flows again${endpointChangeMs >= giveUpMs ? " (gave up)" : ""}`,
        value: endpointChangeMs,
        unit: "ms",
        target: { value: 2000, higherIsBetter: false },
      },
      {
        key: "meshMbps",
        label: `TCP over the mesh (wireguard-go; ${withIperf ? "iperf3" : "Node sender"})`,
        value: round(meshMbps, 0),
        unit: "Mbit/s",
      },
      {
        key: "plainMbps",
        label: `TCP over the plain veth${nat ? " (to worker-2, same site)" : ""}`,
        value: round(plainMbps, 0),
        unit: "Mbit/s",
      },
      { key: "throughputRatio", label: "mesh / plain throughput", value: throughputRatio, unit: "" },
    ];
    printFigures(
      `mesh (1 control plane + 2 workers, a third worker joining; ${nat ? "nat topology, 2 sites" : "flat topology"})`,
      figures,
    );
    return Object.fromEntries(figures.map((f) => [f.key, f.value]));
  } finally {
    reader?.close();
    await destroyCluster(name).catch(() => {});
    if (previousDir === undefined) delete process.env.PLINTH_CLUSTERS_DIR;
    else process.env.PLINTH_CLUSTERS_DIR = previousDir;
    await rm(home, { recursive: true, force: true });
  }
}
