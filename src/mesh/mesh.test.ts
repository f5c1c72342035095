import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../testing/eventually.ts";
import { meshAddress, meshPrefix } from "./address.ts";
import { MESH_FWMARK, MESH_LISTEN_PORT, MESH_MTU, MESH_ROUTE_TABLE, MESH_RULE_PRIORITY } from "./defaults.ts";
import { meshPresharedKey } from "./keys.ts";
import { configureMeshLink } from "./link.ts";
import { check, createMeshLab, type LabNode, type MeshLab, networkSnapshot } from "./mesh-lab.fixture.ts";
import { type MeshPeerConfig, readMeshPeers, setPeerEndpoint, syncMeshPeers } from "./peers.ts";
import { applyMeshRouting, removeMesh } from "./routing.ts";

const LINK = "plinth-mesh";
const CLUSTER = "mesh-test-cluster";
const psk = meshPresharedKey("the cluster secret");
const wrongPsk = meshPresharedKey("another cluster's secret");
const prefix = meshPrefix(CLUSTER);

describe("WireGuard mesh between sandboxes", { timeout: 180_000 }, () => {
  let lab: MeshLab;
  let a: LabNode;
  let b: LabNode;
  let c: LabNode;
  let d: LabNode; // knows everyone but uses the wrong pre-shared key
  const before4: Record<string, Record<string, string>> = {};
  const addr = (n: LabNode) => meshAddress(CLUSTER, n.name);
  const peerOf = (n: LabNode): MeshPeerConfig => ({
    publicKey: n.keys.publicKey,
    endpoint: `${n.ip}:${MESH_LISTEN_PORT}`,
    allowedIps: [`${addr(n)}/128`, `${n.ip}/32`],
  });
  const routing = (n: LabNode, bypass: string[] = []) => ({
    linkName: LINK,
    fwmark: MESH_FWMARK,
    table: MESH_ROUTE_TABLE,
    rulePriority: MESH_RULE_PRIORITY,
    destinations: [prefix, ...lab.nodes.filter((o) => o !== n).map((o) => `${o.ip}/32`)],
    bypass,
    mtu: MESH_MTU,
  });
  async function bringUp(n: LabNode, key: string): Promise<void> {
    lab.startWireGuard(n, LINK);
    const cfg = {
      name: LINK,
      privateKey: n.keys.privateKey,
      listenPort: MESH_LISTEN_PORT,
      mtu: MESH_MTU,
      address: addr(n),
      prefix,
      fwmark: MESH_FWMARK,
    };
    // wireguard-go creates the link and its socket a moment after starting.
    await eventually(
      `${n.name}'s mesh link`,
      async () => {
        await configureMeshLink(n.host, cfg);
        return true;
      },
      10_000,
    );
    await syncMeshPeers(n.host, LINK, lab.nodes.filter((o) => o !== n).map(peerOf), key);
    await applyMeshRouting(n.host, routing(n));
  }
  const ping = (from: LabNode, to: string, count = 1) =>
    from.box.exec("ping", ["-c", String(count), "-i", "0.2", "-W", "1", "-s", "1000", to]);
  const peerState = async (on: LabNode, of: LabNode) =>
    (await readMeshPeers(on.host, LINK)).find((p) => p.publicKey === of.keys.publicKey)!;

  before(async () => {
    lab = await createMeshLab(4);
    [a, b, c, d] = lab.nodes as [LabNode, LabNode, LabNode, LabNode];
    for (const n of lab.nodes) before4[n.name] = await networkSnapshot(n.box);
    // Removing a mesh that never existed (no link, no nft table, no routing table 180) is a no-op.
    await removeMesh(a.host, { linkName: LINK, table: MESH_ROUTE_TABLE, fwmark: MESH_FWMARK });
    assert.deepEqual(await networkSnapshot(a.box), before4[a.name]);
    await Promise.all([a, b, c].map((n) => bringUp(n, psk)));
    await bringUp(d, wrongPsk);
  });
  after(async () => {
    await lab?.destroy();
  });

  it("carries ping and TCP between mesh addresses, with handshakes and byte counts", async () => {
    for (const [from, to] of [
      [a, b],
      [b, c],
      [c, a],
    ] as const) {
      await eventually(`ping ${from.name} → ${to.name}`, async () =>
        (await ping(from, addr(to))).code === 0 ? true : undefined,
      );
    }
    const server = b.box.spawn(process.execPath, [
      "-e",
      "require('net').createServer((s) => s.pipe(s)).listen(7000, '::', () => console.log('listening'))",
    ]);
    await new Promise((r) => server.stdout?.once("data", r));
    const echoed = await check(a.box, process.execPath, [
      "-e",
      `const s = require('net').connect(7000, process.argv[1]); const data = Buffer.alloc(200000, 7); let n = 0;
       s.on('data', (d) => { n += d.length; if (n >= data.length) { console.log(n); s.end(); } }); s.write(data);`,
      addr(b),
    ]);
    assert.equal(echoed.trim(), "200000");
    server.kill();
    const seen = await peerState(a, b);
    assert.ok(seen.latestHandshakeMs > Date.now() - 60_000, `handshake at ${seen.latestHandshakeMs}`);
    assert.ok(seen.rxBytes > 200_000 && seen.txBytes > 200_000, `rx ${seen.rxBytes} tx ${seen.txBytes}`);
    assert.equal(seen.endpoint, `${b.ip}:${MESH_LISTEN_PORT}`);
  });

  it("never completes a handshake with a peer using another pre-shared key", async () => {
    assert.notEqual((await ping(d, addr(a), 3)).code, 0);
    assert.notEqual((await ping(a, addr(d), 3)).code, 0);
    assert.equal((await peerState(d, a)).latestHandshakeMs, 0);
    assert.equal((await peerState(a, d)).latestHandshakeMs, 0);
    // The attempts did reach a: d sent handshake initiations.
    assert.ok((await peerState(d, a)).txBytes > 0);
  });

  it("steers traffic to a peer's node address through the mesh, not its own WireGuard packets", async () => {
    const route = await check(a.box, "ip", ["-4", "route", "get", b.ip]);
    assert.match(route, /dev eth0/, "the main table is untouched");
    const marked = await check(a.box, "ip", ["-4", "route", "get", b.ip, "mark", "0x40"]);
    assert.match(marked, /dev plinth-mesh/);
    const beforeTx = (await peerState(a, b)).txBytes;
    assert.equal((await ping(a, b.ip, 5)).code, 0);
    const steeredTx = (await peerState(a, b)).txBytes - beforeTx;
    assert.ok(steeredTx >= 5 * 1000, `5 pings of 1000 bytes went through the mesh: tx grew by ${steeredTx}`);

    // A bypassed destination takes the normal route again.
    await applyMeshRouting(a.host, routing(a, [`${b.ip}/32`]));
    const bypassTx = (await peerState(a, b)).txBytes;
    assert.equal((await ping(a, b.ip, 5)).code, 0);
    assert.ok((await peerState(a, b)).txBytes - bypassTx < 5 * 1000, "bypassed pings left the mesh alone");
    await applyMeshRouting(a.host, routing(a));
  });

  it("is idempotent and repairs drift", async () => {
    const handles = await check(a.box, "nft", ["-a", "list", "table", "inet", "plinth_mesh"]);
    const dump = (await check(a.box, "wg", ["show", LINK, "peers"])).split("\n").sort();
    await applyMeshRouting(a.host, routing(a));
    await syncMeshPeers(a.host, LINK, [b, c, d].map(peerOf), psk);
    assert.equal(
      await check(a.box, "nft", ["-a", "list", "table", "inet", "plinth_mesh"]),
      handles,
      "table not recreated",
    );
    assert.deepEqual((await check(a.box, "wg", ["show", LINK, "peers"])).split("\n").sort(), dump);

    const handle = /ip daddr @steer4 .* # handle (\d+)/.exec(handles)?.[1];
    await check(a.box, "nft", ["delete", "rule", "inet", "plinth_mesh", "steer", "handle", handle!]);
    await check(a.box, "ip", ["-4", "rule", "del", "priority", String(MESH_RULE_PRIORITY)]);
    await check(a.box, "ip", ["link", "set", LINK, "mtu", "1300"]);
    await configureMeshLink(a.host, {
      name: LINK,
      privateKey: a.keys.privateKey,
      listenPort: MESH_LISTEN_PORT,
      mtu: MESH_MTU,
      address: addr(a),
      prefix,
      fwmark: MESH_FWMARK,
    });
    await applyMeshRouting(a.host, routing(a));
    assert.match(await check(a.box, "nft", ["list", "table", "inet", "plinth_mesh"]), /ip daddr @steer4/);
    for (const family of ["-4", "-6"]) {
      const rules = (await check(a.box, "ip", [family, "rule"]))
        .split("\n")
        .filter((l) => l.includes("lookup 180"));
      assert.deepEqual(
        rules,
        [`${MESH_RULE_PRIORITY}:\tfrom all fwmark 0x40/0x40 lookup 180`],
        `${family} rules`,
      );
    }
    assert.match(await check(a.box, "ip", ["link", "show", LINK]), /mtu 1420/);
    // Set elements change in place.
    await applyMeshRouting(a.host, { ...routing(a), destinations: [prefix, `${b.ip}/32`] });
    const listed = await check(a.box, "nft", ["list", "set", "inet", "plinth_mesh", "steer4"]);
    assert.match(listed, /elements = \{ 10\.77\.0\.2 \}/);
    await applyMeshRouting(a.host, routing(a));
  });

  it("follows an endpoint change through setPeerEndpoint, and a later sync keeps it", async () => {
    await check(b.box, "ip", ["addr", "del", `${b.ip}/24`, "dev", "eth0"]);
    b.ip = "10.77.0.12";
    await check(b.box, "ip", ["addr", "add", `${b.ip}/24`, "dev", "eth0"]);
    assert.notEqual((await ping(a, addr(b))).code, 0, "traffic to the old endpoint is lost");
    await setPeerEndpoint(a.host, LINK, b.keys.publicKey, `${b.ip}:${MESH_LISTEN_PORT}`);
    await eventually("ping a → b at its new endpoint", async () =>
      (await ping(a, addr(b))).code === 0 ? true : undefined,
    );
    // The desired endpoint handed to sync did not change (still the old address): it is not reset.
    const stale = { ...peerOf(b), endpoint: `10.77.0.2:${MESH_LISTEN_PORT}` };
    await syncMeshPeers(a.host, LINK, [stale, peerOf(c), peerOf(d)], psk);
    assert.equal((await peerState(a, b)).endpoint, `${b.ip}:${MESH_LISTEN_PORT}`);
    await assert.rejects(setPeerEndpoint(a.host, LINK, c.keys.privateKey, "10.77.0.3:1"), {
      code: "not_found",
    });
  });

  it("removes peers not listed any more", async () => {
    await syncMeshPeers(a.host, LINK, [peerOf(b), peerOf(c)], psk);
    const keys = (await readMeshPeers(a.host, LINK)).map((p) => p.publicKey).sort();
    assert.deepEqual(keys, [b.keys.publicKey, c.keys.publicKey].sort());
  });

  it("leaves ip rule, nft ruleset, links and routes as they were once removed", async () => {
    for (const n of lab.nodes) {
      await removeMesh(n.host, { linkName: LINK, table: MESH_ROUTE_TABLE, fwmark: MESH_FWMARK });
      const wg = n.wireguard!;
      if (wg.exitCode === null && wg.signalCode === null) await new Promise((r) => wg.once("exit", r));
    }
    // b's address was changed by the endpoint test: put it back before comparing.
    await check(b.box, "ip", ["addr", "del", `${b.ip}/24`, "dev", "eth0"]);
    await check(b.box, "ip", ["addr", "add", "10.77.0.2/24", "dev", "eth0"]);
    for (const n of lab.nodes) assert.deepEqual(await networkSnapshot(n.box), before4[n.name], n.name);
    // Removing again finds nothing to do.
    await removeMesh(a.host, { linkName: LINK, table: MESH_ROUTE_TABLE, fwmark: MESH_FWMARK });
  });
});
