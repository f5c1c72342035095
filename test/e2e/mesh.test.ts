// The mesh end to end, as root: agents in sandboxes on a bridge the test makes (inside a further
// sandbox, the switch, which also runs the discovery service), each with a `Mesh` and a
// `Discovery` document. Peers and endpoints come from discovery; the agents run wireguard-go,
// the link, the peers and the routing themselves.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fromConnectError } from "../../src/api/error-mapping.ts";
import { resourceFromWire } from "../../src/api/resource-wire.ts";
import { yamlOf } from "../../src/config/testing/fixtures.ts";
import { check, networkSnapshot, requireMeshTools } from "../../src/mesh/mesh-lab.fixture.ts";
import { plinthBin } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { createSwitchBridge, plugIntoSwitch } from "../../src/testing/lab-network.ts";
import { createSandbox, type Sandbox } from "../../src/testing/sandbox.ts";
import { type SandboxedAgent, startSandboxedAgent } from "../../src/testing/sandboxed-agent.ts";

const subnet = "10.79.0";
const discoveryUrl = `http://${subnet}.254:3000`;

interface PeerView {
  readonly hostname: string;
  readonly address: string;
  readonly endpoint: string;
  readonly state: string;
}

interface Node {
  readonly name: string;
  readonly agent: SandboxedAgent;
  ip: string;
  /** `ip rule`, `nft list ruleset`, links before the mesh. */
  before?: Record<string, string>;
}

const meshDoc = (enabled: boolean, more: Record<string, unknown> = {}) => ({
  apiVersion: "v1alpha1",
  kind: "Mesh",
  enabled,
  ...more,
});
const discoveryDoc = { apiVersion: "v1alpha1", kind: "Discovery", endpoint: discoveryUrl, ttl: "1m" };

/** The base documents, with another cluster secret when asked. */
function documents(agent: SandboxedAgent, extra: unknown[], secret?: string): string {
  const docs = agent.baseDocuments.map((d) =>
    secret && (d as { kind?: string }).kind === "ClusterConfig" ? { ...(d as object), secret } : d,
  );
  return yamlOf(...docs, ...extra);
}

async function peersOf(node: Node): Promise<PeerView[]> {
  const res = await node.agent.resources.list({ type: "meshpeers" });
  return (res.messages[0]?.resources ?? []).map((r) => resourceFromWire(r).spec as PeerView);
}

async function meshAddressOf(node: Node): Promise<string> {
  const res = await node.agent.resources.get({ type: "MeshIdentity", id: "local" });
  return (resourceFromWire(res.messages[0]!.resource!).spec as { address: string }).address;
}

describe("the mesh between agents, from discovery", () => {
  let sw: Sandbox | undefined;
  let discovery: ChildProcess | undefined;
  const nodes: Node[] = [];
  let stranger: Node | undefined;
  /** A member whose WireGuard traffic is dropped: a peer that never comes up. */
  let unreachable: Node | undefined;
  const addresses = new Map<string, string>();

  async function attach(agent: SandboxedAgent, i: number, name: string): Promise<Node> {
    const ip = `${subnet}.${i + 1}`;
    await plugIntoSwitch(sw!, agent.box, `p${i}`, `${ip}/24`);
    return { name, agent, ip };
  }

  before(async () => {
    await requireMeshTools();
    const tag = `${process.pid % 10000}`;
    sw = await createSandbox({ name: `mesh-e2e-sw-${tag}` });
    await createSwitchBridge(sw, `${subnet}.254/24`);
    discovery = sw.spawn(
      process.execPath,
      [
        plinthBin,
        "discovery",
        "serve",
        "--listen",
        `${subnet}.254:3000`,
        "--rate-limit",
        "0",
        "--metrics",
        "off",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const names = ["a", "b", "c"].map((n) => `mesh-e2e-${n}-${tag}`);
    const agents = await Promise.all(names.map((name) => startSandboxedAgent({ name })));
    for (const [i, agent] of agents.entries()) nodes.push(await attach(agent, i, names[i]!));
    const strangerAgent = await startSandboxedAgent({ name: `mesh-e2e-x-${tag}` });
    stranger = await attach(strangerAgent, 9, strangerAgent.box.name);
    for (const n of [...nodes, stranger]) n.before = await networkSnapshot(n.agent.box);
    for (const n of nodes) {
      await n.agent.machine.applyConfiguration({
        data: new TextEncoder().encode(documents(n.agent, [meshDoc(true), discoveryDoc])),
      });
    }
    await stranger.agent.machine.applyConfiguration({
      data: new TextEncoder().encode(
        documents(stranger.agent, [meshDoc(true), discoveryDoc], Buffer.alloc(32, 9).toString("base64")),
      ),
    });
  });

  after(async () => {
    const extra = [stranger, unreachable].filter((n): n is Node => n !== undefined);
    await Promise.all([...nodes, ...extra].map((n) => n.agent.stop()));
    discovery?.kill("SIGKILL");
    await sw?.destroy();
  });

  it("brings the full mesh up: every agent has the other two as peers, up", async () => {
    for (const n of nodes) {
      const others = nodes.filter((o) => o !== n).map((o) => o.name);
      await eventually(
        `${n.name} to have ${others.join(", ")} up`,
        async () => {
          const peers = await peersOf(n);
          const up = peers.filter((p) => p.state === "up").map((p) => p.hostname);
          return JSON.stringify(up.sort()) === JSON.stringify(others.sort()) && peers.length === 2
            ? peers
            : undefined;
        },
        30_000,
        250,
      );
    }
    for (const n of nodes) addresses.set(n.name, await meshAddressOf(n));
    const [a, b] = nodes;
    const bSeenByA = (await peersOf(a!)).find((p) => p.hostname === b!.name)!;
    assert.equal(bSeenByA.endpoint, `${b!.ip}:51820`);
    assert.equal(bSeenByA.address, addresses.get(b!.name));
    const cli = await a!.agent.cli(["get", "meshpeers"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /HOSTNAME\s+ENDPOINT\s+STATE\s+LAST-HANDSHAKE\s+RX\s+TX/);
    assert.match(cli.stdout, new RegExp(`${b!.name}\\s+${b!.ip.replaceAll(".", "\\.")}:51820\\s+up`));
  });

  it("carries ping and TCP over the mesh addresses", async () => {
    const [a, b, c] = nodes;
    for (const [from, to] of [
      [a, b],
      [b, c],
      [c, a],
    ] as const) {
      const r = await from!.agent.box.exec("ping", ["-6", "-c", "1", "-W", "2", addresses.get(to!.name)!]);
      assert.equal(r.code, 0, `${from!.name} → ${to!.name}: ${r.stdout}${r.stderr}`);
    }
    const server = b!.agent.box.spawn(
      process.execPath,
      [
        "-e",
        `require("node:net").createServer((s) => s.end("hello over the mesh\\n")).listen(7777, "${addresses.get(b!.name)}", () => console.log("ready"))`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout!.once("data", () => resolve());
        server.once("exit", (code) => reject(new Error(`TCP server exited ${code}`)));
      });
      const client = await a!.agent.box.exec(process.execPath, [
        "-e",
        `const s = require("node:net").connect(7777, "${addresses.get(b!.name)}"); s.pipe(process.stdout); s.on("error", (e) => { console.error(e.message); process.exit(1); });`,
      ]);
      assert.equal(client.code, 0, client.stderr);
      assert.equal(client.stdout, "hello over the mesh\n");
    } finally {
      server.kill("SIGKILL");
    }
  });

  it("keeps the private key from every role, os:admin included", async () => {
    const [a] = nodes;
    await assert.rejects(a!.agent.resources.get({ type: "MeshPrivateKey", id: "local" }), (err) => {
      const e = fromConnectError(err);
      return e.code === "permission_denied" && /private to the machine/.test(e.message);
    });
    const got = await a!.agent.cli(["get", "MeshPrivateKey"]);
    assert.notEqual(got.code, 0);
    assert.match(got.stderr, /private to the machine/);
  });

  it("follows a node whose address changes", async () => {
    const [a, b, c] = nodes;
    const moved = `${subnet}.13`;
    // Old address out first: deleting a subnet's primary address takes its secondaries along.
    await check(c!.agent.box, "ip", ["addr", "del", `${c!.ip}/24`, "dev", "eth0"]);
    await check(c!.agent.box, "ip", ["addr", "add", `${moved}/24`, "dev", "eth0"]);
    c!.ip = moved;
    for (const n of [a, b]) {
      await eventually(
        `${n!.name} to reach ${c!.name} at ${moved}`,
        async () => {
          const p = (await peersOf(n!)).find((x) => x.hostname === c!.name);
          return p?.state === "up" && p.endpoint === `${moved}:51820` ? p : undefined;
        },
        30_000,
        250,
      ).catch(async (err) => {
        if (process.env.MESH_DEBUG) {
          for (const x of nodes) {
            console.error(x.name, JSON.stringify(await peersOf(x)));
            console.error((await x.agent.box.exec("wg", ["show", "plinth-mesh", "dump"])).stdout);
          }
          console.error(
            c!.agent
              .output()
              .split("\n")
              .filter((l) => /mesh|Mesh|wg/.test(l))
              .slice(-30)
              .join("\n"),
          );
        }
        throw err;
      });
      const r = await n!.agent.box.exec("ping", ["-6", "-c", "1", "-W", "2", addresses.get(c!.name)!]);
      assert.equal(r.code, 0, `${n!.name} → ${c!.name} after the move: ${r.stdout}${r.stderr}`);
    }
  });

  it("never lets an agent with another cluster secret join", async () => {
    const x = stranger!;
    await eventually("the stranger's mesh link", async () => {
      const res = await x.agent.resources.get({ type: "MeshStatus", id: "mesh" });
      const s = resourceFromWire(res.messages[0]!.resource!).spec as { link: boolean };
      return s.link ? s : undefined;
    });
    assert.deepEqual(await peersOf(x), []);
    for (const n of nodes) {
      const peers = await peersOf(n);
      assert.equal(peers.length, 2, `${n.name} has only its two peers`);
      assert.ok(!peers.some((p) => p.hostname === x.name));
    }
    const r = await x.agent.box.exec("ping", ["-6", "-c", "1", "-W", "1", addresses.get(nodes[0]!.name)!]);
    assert.notEqual(r.code, 0, "the stranger cannot reach a mesh address");
  });

  it("drops a node that is reset from everyone's peers", async () => {
    const [a, b, c] = nodes;
    await b!.agent.machine.reset({ graceful: true });
    for (const n of [a, c]) {
      await eventually(
        `${b!.name} gone from ${n!.name}'s peers`,
        async () => {
          const peers = await peersOf(n!);
          return peers.length === 1 && peers[0]!.hostname !== b!.name && peers[0]!.state === "up"
            ? true
            : undefined;
        },
        30_000,
        250,
      );
    }
    // The reset machine is back in maintenance mode with nothing of the mesh left.
    const now = await eventually(
      `${b!.name} back as it was`,
      async () => {
        const snap = await networkSnapshot(b!.agent.box);
        return ["rules4", "rules6", "links"].every((k) => snap[k] === b!.before![k]) ? snap : undefined;
      },
      20_000,
      250,
    ).catch(() => networkSnapshot(b!.agent.box));
    // (Other tables go too: the machine has no config at all now.)
    for (const k of ["rules4", "rules6", "links"]) assert.equal(now[k], b!.before![k], `${b!.name}: ${k}`);
    assert.doesNotMatch(now.nft!, /plinth_mesh/);
  });

  it("marks a peer it never reaches down, and with allowDownPeerBypass sends its traffic by the normal route", async () => {
    const [a] = nodes;
    const tag = `${process.pid % 10000}`;
    const agent = await startSandboxedAgent({ name: `mesh-e2e-d-${tag}` });
    unreachable = await attach(agent, 4, agent.box.name);
    const d = unreachable;
    // WireGuard's UDP dropped both ways inside d: no handshake ever completes with it.
    const blocked = await d.agent.box.exec("nft", ["-f", "-"], {
      input: [
        "table inet e2e_block {",
        "  chain in { type filter hook input priority -10; udp dport 51820 drop; }",
        "  chain out { type filter hook output priority -10; udp sport 51820 drop; }",
        "}",
        "",
      ].join("\n"),
    });
    assert.equal(blocked.code, 0, blocked.stderr);
    // d bypasses its down peers, so its replies to a's node address take the normal route.
    await d.agent.machine.applyConfiguration({
      data: new TextEncoder().encode(
        documents(d.agent, [meshDoc(true, { allowDownPeerBypass: true }), discoveryDoc]),
      ),
    });
    await eventually(
      `${d.name} down on ${a!.name}, its node address routed to it`,
      async () => {
        const down = (await peersOf(a!)).find((p) => p.hostname === d.name)?.state === "down";
        const specs = await a!.agent.resources.list({ type: "MeshPeerSpec" });
        const routed = (specs.messages[0]?.resources ?? [])
          .map((r) => resourceFromWire(r).spec as { hostname: string; allowedIps: string[] })
          .some((p) => p.hostname === d.name && p.allowedIps.includes(`${d.ip}/32`));
        return down && routed ? true : undefined;
      },
      30_000,
      250,
    );
    const ping = () => a!.agent.box.exec("ping", ["-c", "1", "-W", "1", d.ip]);
    await eventually(`${d.ip} steered into the mesh on ${a!.name}`, async () =>
      (await check(a!.agent.box, "nft", ["list", "set", "inet", "plinth_mesh", "steer4"])).includes(d.ip)
        ? true
        : undefined,
    );
    const direct = await ping();
    assert.notEqual(direct.code, 0, "without the bypass, traffic to a down peer is dropped");
    await a!.agent.machine.applyConfiguration({
      data: new TextEncoder().encode(
        documents(a!.agent, [meshDoc(true, { allowDownPeerBypass: true }), discoveryDoc]),
      ),
    });
    await eventually(
      `${a!.name} to reach ${d.name}'s node address by the normal route`,
      async () => ((await ping()).code === 0 ? true : undefined),
      20_000,
      250,
    );
  });

  it("leaves ip rules, nftables and links exactly as before when the mesh is disabled", async () => {
    for (const n of [nodes[0]!, nodes[2]!, stranger!]) {
      const secret = n === stranger ? Buffer.alloc(32, 9).toString("base64") : undefined;
      await n.agent.machine.applyConfiguration({
        data: new TextEncoder().encode(documents(n.agent, [meshDoc(false), discoveryDoc], secret)),
      });
    }
    for (const n of [nodes[0]!, nodes[2]!, stranger!]) {
      await eventually(
        `${n.name}'s mesh removed`,
        async () => {
          const res = await n.agent.resources.get({ type: "MeshStatus", id: "mesh" });
          const s = resourceFromWire(res.messages[0]!.resource!).spec as { enabled: boolean };
          return s.enabled ? undefined : s;
        },
        20_000,
        250,
      );
      // The link goes with wireguard-go, a moment after the rest.
      const now = await eventually(
        `${n.name} as before`,
        async () => {
          const snap = await networkSnapshot(n.agent.box);
          return snap.links === n.before!.links ? snap : undefined;
        },
        10_000,
        250,
      ).catch(() => networkSnapshot(n.agent.box));
      for (const k of ["rules4", "rules6", "nft", "links"])
        assert.equal(now[k], n.before![k], `${n.name}: ${k}`);
      assert.deepEqual(await peersOf(n), []);
    }
  });
});
