// NAT traversal for real, as root: `plinth cluster create --with-mesh --topology nat` puts a
// control plane and a worker in site 1 and a worker in site 2, each site behind its own NAT
// router namespace. The sites cannot reach each other's node addresses by the normal route; the
// mesh (peers and endpoints from the cluster's discovery service) connects them anyway.
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkPrerequisites, installHint, selectPrerequisites } from "../../src/doctor/doctor.ts";
import { MESH_FWMARK } from "../../src/mesh/index.ts";
import { addWorker } from "../../src/provision/add-node.ts";
import type { NodePlan } from "../../src/provision/cluster-plan.ts";
import { clusterTag } from "../../src/provision/cluster-plan.ts";
import type { ClusterRecord } from "../../src/provision/cluster-record.ts";
import { type ClusterHome, createClusterHome } from "../../src/testing/cluster-home.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { requireSandboxTools } from "../../src/testing/sandbox.ts";

const name = "e2e-mnat";
const cidr = "10.234.0.0/24";
const crashed = "e2e-mnat-crash";

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
/** Runs a command inside a namespace; resolves with its exit code and output. */
const inNs = (netns: string, ...argv: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile("ip", ["netns", "exec", netns, ...argv], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
/** One ping by the normal route: the mark WireGuard's own packets carry exempts it from the mesh. */
const pingDirect = (netns: string, address: string) =>
  inNs(netns, "ping", "-c", "1", "-W", "1", "-m", String(MESH_FWMARK), address);
/** A TCP exchange from inside `netns`: connects, reads until the server closes (or only connects). */
const tcpFrom = (netns: string, host: string, port: number, options: { connectOnly?: boolean } = {}) =>
  inNs(
    netns,
    process.execPath,
    "-e",
    `const s=require("node:net").connect({host:${JSON.stringify(host)},port:${port},timeout:3000});let d="";` +
      (options.connectOnly ? `s.on("connect",()=>process.exit(0));` : "") +
      `s.on("data",(c)=>d+=c).on("end",()=>{console.log(d);process.exit(0)}).on("timeout",()=>process.exit(3)).on("error",(e)=>{console.error(e.message);process.exit(2)})`,
  );
const hostState = async () => ({
  forwarding: await readFile("/proc/sys/net/ipv4/ip_forward", "utf8"),
  nft: execFileSync("nft", ["list", "ruleset"], { encoding: "utf8" }),
  wireguardMounts: (await readFile("/proc/mounts", "utf8")).split("\n").filter((l) => l.includes("wireguard"))
    .length,
});

interface PeerView {
  readonly hostname: string;
  readonly address: string;
  readonly endpoint: string;
  readonly state: string;
}

describe("mesh across NAT in a local cluster", () => {
  let home: ClusterHome;
  let record: ClusterRecord;
  let baseline: Awaited<ReturnType<typeof hostState>>;
  const cli = (...args: string[]) => home.cli(...args);
  const nodeNamed = (suffix: string) => record.nodes.find((n) => n.name === `${name}-${suffix}`)!;

  const peersOf = async (nodeIp: string): Promise<PeerView[]> => {
    const r = await cli("-e", nodeIp, "-n", nodeIp, "get", "meshpeers", "-o", "json");
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout
      .split(/\n(?=\{)/)
      .filter((t) => t.trim())
      .map((t) => (JSON.parse(t) as { spec: PeerView }).spec);
  };

  before(async () => {
    await requireSandboxTools();
    const missing = (await checkPrerequisites(selectPrerequisites(["mesh", "cluster"]))).filter(
      (c) => !c.found,
    );
    if (missing.length > 0) {
      throw new Error(
        `missing ${missing.map((m) => m.binary).join(", ")}: ${installHint(missing)} (run 'npx plinth doctor --install')`,
      );
    }
    baseline = await hostState();
    home = await createClusterHome("plinth-e2e-mesh-nat-");
    const created = await home.create(
      { name: name, controlplanes: 1, workers: 2, cidr: cidr },
      "--topology",
      "nat",
      "--with-mesh",
    );
    assert.equal(created.code, 0, created.stdout + created.stderr);
    record = JSON.parse(await readFile(join(home.dir, "clusters", name, "cluster.json"), "utf8"));
  });

  after(async () => {
    if (home) {
      for (const n of [name, crashed]) await cli("cluster", "destroy", "--name", n);
      await rm(home.dir, { recursive: true, force: true });
    }
  });

  it("refuses bad topology flags before creating anything", async () => {
    for (const [flags, message] of [
      [["--topology", "star"], /--topology must be one of flat, nat, current value is 'star'/],
      [["--topology", "nat", "--sites", "9"], /--sites must be a whole number from 2 to 8/],
      [["--sites", "3"], /--sites is for --topology nat/],
    ] as const) {
      const r = await cli("cluster", "create", "--name", "e2e-mnat-bad", "--cidr", "10.235.0.0/24", ...flags);
      assert.equal(r.code, 1, `${flags.join(" ")} should fail`);
      assert.match(r.stderr, message);
    }
    assert.doesNotMatch(ip("netns", "list"), /plinth-e2e-mnat-bad-/);
    assert.doesNotMatch(ip("-br", "link"), new RegExp(`^pl[bvrd]-?${clusterTag("e2e-mnat-bad")}`, "m"));
  });

  it("sites reach each other only through their NAT routers, never through the host", async () => {
    const cp1 = nodeNamed("controlplane-1");
    const w1 = nodeNamed("worker-1");
    const w2 = nodeNamed("worker-2");
    assert.deepEqual(
      [cp1.site, w1.site, w2.site],
      [0, 1, 0],
      "control plane and worker-2 in site 1, worker-1 in site 2",
    );
    const site2Router = record.sites[1]!.router!;
    // Same site: direct. Other site's node address: no route. Other site's public address: via NAT.
    assert.equal((await pingDirect(cp1.netns, w2.ip)).code, 0);
    assert.notEqual((await pingDirect(cp1.netns, w1.ip)).code, 0, "site 2 is not reachable from site 1");
    assert.notEqual((await pingDirect(w1.netns, cp1.ip)).code, 0, "site 1 is not reachable from site 2");
    assert.equal((await pingDirect(cp1.netns, site2Router.publicIp)).code, 0);
    // The discovery service sits on the public network: reached through the NAT.
    const discovery = await tcpFrom(w1.netns, record.discovery!.ip, record.discovery!.port, {
      connectOnly: true,
    });
    assert.equal(discovery.code, 0, discovery.out);
    const masquerade = execFileSync(
      "ip",
      ["netns", "exec", site2Router.netns, "nft", "list", "table", "ip", "plinth_nat"],
      {
        encoding: "utf8",
      },
    );
    assert.match(masquerade, /oifname "public" .*masquerade/);
    // The host: no forwarding, no NAT, its ruleset as before.
    const now = await hostState();
    assert.equal(now.forwarding, baseline.forwarding);
    assert.equal(now.nft, baseline.nft);
    // The host reaches every node's API through its address on each site bridge.
    const show = await cli("cluster", "show", "--name", name);
    assert.match(show.stdout, /e2e-mnat-worker-1\s+worker\s+10\.234\.0\.66\s+running\s+site-2/);
    assert.match(show.stdout, /cluster e2e-mnat: topology nat, mesh on/);
    assert.match(show.stdout, /site-2: 10\.234\.0\.64\/26 .*NAT router 10\.234\.0\.65 -> 10\.234\.0\.194/);
  });

  it("the mesh connects the sites: every peer up, cross-site endpoints are the routers' public addresses", async () => {
    const byHostname = new Map<string, PeerView[]>();
    // A peer of another site is reached at that site's router; one of the same site directly.
    const expectedEndpoint = (from: NodePlan, to: NodePlan) =>
      from.site === to.site ? `${to.ip}:${to.meshPort}` : `${record.sites[to.site]!.router!.publicIp}:`;
    const settled = () =>
      record.nodes.every((from) =>
        (byHostname.get(from.name) ?? []).every((p) => {
          const to = record.nodes.find((n) => n.name === p.hostname)!;
          return p.endpoint.startsWith(expectedEndpoint(from, to));
        }),
      );
    // Up everywhere, and the endpoints settled: while it looks for one that works, a node may
    // briefly try a candidate that cannot work (a private address of the other site).
    await eventually(
      "every node to have both peers up at endpoints that work",
      async () => {
        for (const node of record.nodes) {
          const peers = await peersOf(node.ip);
          byHostname.set(node.name, peers);
          if (peers.length !== 2 || peers.some((p) => p.state !== "up")) return undefined;
        }
        return settled() ? true : undefined;
      },
      60_000,
      500,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify([...byHostname])}`);
    });
    const cp1Peers = byHostname.get(`${name}-controlplane-1`)!;
    const w1 = cp1Peers.find((p) => p.hostname === `${name}-worker-1`)!;
    const w2 = cp1Peers.find((p) => p.hostname === `${name}-worker-2`)!;
    assert.equal(w1.endpoint, `${record.sites[1]!.router!.publicIp}:${nodeNamed("worker-1").meshPort}`);
    assert.equal(w2.endpoint, `${nodeNamed("worker-2").ip}:${nodeNamed("worker-2").meshPort}`);
    // Each node has its own /run/wireguard, holding its own link's control socket.
    for (const node of record.nodes) {
      const init = record.pids[node.name]!;
      const mounts = await readFile(`/proc/${init}/mounts`, "utf8");
      assert.match(mounts, /^tmpfs \/run\/wireguard tmpfs /m, `${node.name} has a private /run/wireguard`);
      const links = execFileSync("nsenter", ["-t", String(init), "-m", "-n", "wg", "show", "interfaces"], {
        encoding: "utf8",
      });
      assert.equal(links.trim(), "plinth-mesh");
    }
    const health = await cli("--context", name, "health", "--wait-timeout", "60s");
    assert.equal(health.code, 0, health.stdout + health.stderr);
    assert.match(health.stdout, /^OK +all mesh peers up: 3 nodes, 6 peer links up/m);
    const w1Peers = byHostname.get(`${name}-worker-1`)!;
    for (const p of w1Peers)
      assert.ok(p.endpoint.startsWith(`${record.sites[0]!.router!.publicIp}:`), p.endpoint);
  });

  it("ping and TCP cross the NAT over the mesh addresses, and over the node addresses the mesh carries", async () => {
    const cp1 = nodeNamed("controlplane-1");
    const w1 = nodeNamed("worker-1");
    const w1Address = (await peersOf(cp1.ip)).find((p) => p.hostname === w1.name)!.address;
    const cp1Address = (await peersOf(w1.ip)).find((p) => p.hostname === cp1.name)!.address;
    assert.equal((await inNs(cp1.netns, "ping", "-6", "-c", "2", "-W", "2", w1Address)).code, 0);
    assert.equal((await inNs(w1.netns, "ping", "-6", "-c", "2", "-W", "2", cp1Address)).code, 0);
    // A TCP server on worker-1 (site 2), reached from the control plane (site 1).
    const server = spawn(
      "ip",
      [
        "netns",
        "exec",
        w1.netns,
        process.execPath,
        "-e",
        `require("node:net").createServer((s)=>s.end("hello from "+s.localAddress)).listen(7777,"::",()=>console.log("listening"))`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout!.once("data", () => resolve());
        server.once("exit", (c) => reject(new Error(`TCP server exited ${c}`)));
      });
      const overMesh = await tcpFrom(cp1.netns, w1Address, 7777);
      assert.equal(overMesh.code, 0, overMesh.out);
      assert.match(overMesh.out, new RegExp(`hello from ${w1Address}`));
      // The node address too: the mesh carries traffic to peers' node addresses (the steering
      // set follows the peer specs, so give it a moment after the peers came up).
      const overNodeAddress = await eventually(
        `TCP from ${cp1.name} to ${w1.ip} over the mesh`,
        async () => {
          const r = await tcpFrom(cp1.netns, w1.ip, 7777);
          if (r.code !== 0) throw new Error(r.out.trim());
          return r;
        },
        10_000,
        250,
      );
      assert.match(overNodeAddress.out, /hello from/);
    } finally {
      server.kill("SIGTERM");
    }
  });

  it("a worker added later joins every node's mesh across the NAT", async () => {
    process.env.PLINTH_CLUSTERS_DIR = home.env.PLINTH_CLUSTERS_DIR;
    const added = await addWorker(name, { waitTimeoutMs: 60_000 });
    assert.equal(added.node.name, `${name}-worker-3`);
    assert.equal(record.sites[added.node.site]!.name, "site-2");
    record = JSON.parse(await readFile(join(home.dir, "clusters", name, "cluster.json"), "utf8"));
    assert.equal(record.nodes.length, 4);
    await eventually(
      "every node to have the three others up",
      async () => {
        for (const node of record.nodes) {
          const peers = await peersOf(node.ip);
          if (peers.length !== 3 || peers.some((p) => p.state !== "up")) return undefined;
        }
        return true;
      },
      30_000,
      250,
    );
  });

  it("destroy leaves no namespace, bridge, process, mount or nftables table behind", async () => {
    const namespaces = [
      ...record.nodes.map((n) => n.netns),
      ...record.sites.map((s) => s.router!.netns),
      record.discovery!.netns,
    ];
    const pids = namespaces.flatMap((ns) => ip("netns", "pids", ns).split(/\s+/).filter(Boolean).map(Number));
    assert.ok(pids.length >= 4, "agents, inits, wireguard-go and the discovery service run");
    const links = [
      ...record.sites.flatMap((s) => [s.bridge, s.router!.siteVeth, s.router!.publicVeth]),
      record.public!.bridge,
      record.discovery!.veth,
      ...record.nodes.map((n) => n.veth),
    ];
    const destroyed = await cli("cluster", "destroy", "--name", name);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    const listed = ip("netns", "list");
    for (const ns of namespaces) assert.ok(!listed.includes(ns), `namespace ${ns} is gone`);
    const present = ip("-br", "link");
    for (const link of links) assert.ok(!present.includes(link), `link ${link} is gone`);
    // An ended process whose parent already exited may wait a moment for init to reap it
    // (state Z): ended all the same.
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" }));
      } catch {
        return false;
      }
    };
    const alive = await eventually(
      "the cluster's processes to end",
      () => {
        const left = pids.filter(running);
        return left.length === 0 ? left : undefined;
      },
      5000,
      100,
    ).catch(() =>
      pids
        .filter(running)
        .map(
          (pid) =>
            `${pid} ${execFileSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" }).replaceAll("\0", " ")}`,
        ),
    );
    assert.deepEqual(alive, [], "every process of the cluster has ended");
    const mounts = await readFile("/proc/mounts", "utf8");
    assert.ok(!mounts.includes(join(home.dir, "clusters")), "no node mount is left on the host");
    const now = await hostState();
    assert.equal(now.wireguardMounts, baseline.wireguardMounts);
    assert.equal(now.nft, baseline.nft);
    assert.equal(now.forwarding, baseline.forwarding);
  });

  it("destroy without a record (a crash before the first write) finds routers, bridges and the discovery service by name", async () => {
    const created = await home.create(
      { name: crashed, controlplanes: 1, workers: 1, cidr: "10.236.0.0/24" },
      "--topology",
      "nat",
      "--with-mesh",
    );
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const dir = join(home.dir, "clusters", crashed);
    const made: ClusterRecord = JSON.parse(await readFile(join(dir, "cluster.json"), "utf8"));
    await rm(join(dir, "cluster.json"));
    const discoveryPids = ip("netns", "pids", made.discovery!.netns).split(/\s+/).filter(Boolean);
    assert.ok(discoveryPids.length > 0, "the discovery service runs in its namespace");
    const destroyed = await cli("cluster", "destroy", "--name", crashed);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.match(destroyed.stdout, /discovery service: stopped/);
    assert.match(destroyed.stdout, /router plinth-e2e-mnat-crash-router-2: removed/);
    const listed = ip("netns", "list");
    assert.doesNotMatch(listed, /plinth-e2e-mnat-crash-/);
    const links = ip("-br", "link");
    for (const link of [...made.sites.map((s) => s.bridge), made.public!.bridge, made.discovery!.veth]) {
      assert.ok(!links.includes(link), `link ${link} is gone`);
    }
    assert.equal((await hostState()).nft, baseline.nft);
  });
});
