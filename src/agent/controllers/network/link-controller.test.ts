import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DriftStatus, LinkStatus } from "../../resources/index.ts";
import { createLinkConfigController } from "../config/link-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createLinkController, linkControllerName } from "./link-controller.ts";

const link = (body: string) => `apiVersion: v1alpha1\nkind: Link\n${body.trim()}\n`;
const bridge = (ports: string[]) =>
  link(`name: pl-br0\ntype: bridge\nmtu: 1400\nbridge:\n  ports: [${ports.join(", ")}]`);
const veth = link("name: pl-veth1\nmtu: 1300");
const bad = [
  link("name: pl-missing"),
  link("name: pl-br1\ntype: bridge\nbridge:\n  ports: [pl-nosuch]"),
  link("name: pl-dummy0\ntype: dummy"),
];
const pair = link("name: pl-pair0\ntype: veth\nmtu: 1350\nveth:\n  peer: pl-pair1");
const bond = link("name: pl-bond0\ntype: bond\nbond:\n  mode: active-backup\n  ports: [pl-veth1]");
const names = [
  "pl-br0",
  "pl-br1",
  "pl-veth0",
  "pl-veth1",
  "pl-missing",
  "pl-dummy0",
  "pl-pair0",
  "pl-pair1",
  "pl-bond0",
];

interface IpLink {
  ifname: string;
  mtu: number;
  master?: string;
  flags: string[];
}

describe("link controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const links = async () =>
    new Map((JSON.parse(await h.sh("ip -json link show")) as IpLink[]).map((l) => [l.ifname, l]));

  before(async () => {
    machine = await snapshotMachine({ links: names });
    h = await createHostHarness({
      name: "links-box",
      controllers: (o) => [createLinkConfigController({ mode: "netns" }), createLinkController(o)],
    });
    // Stand-ins for physical links: a veth pair made inside the sandbox.
    await h.sh("ip link add pl-veth0 type veth peer name pl-veth1");
  });
  after(() => h.close());

  it("creates bridges with their ports, sets MTU and state, and reports every link", async () => {
    await h.apply([bridge(["pl-veth0"]), veth, ...bad].join("---\n"));
    const br = await h.waitFor(
      LinkStatus.ptr("pl-br0"),
      (r) => r?.spec.present === true && r.spec.up === true,
    );
    assert.equal(br?.spec.kind, "bridge");
    assert.equal(br?.spec.mtu, 1400);
    assert.equal(br?.spec.createdByPlinth, true);
    assert.deepEqual(br?.spec.ports, ["pl-veth0"]);
    assert.equal(br?.spec.error, undefined);
    const seen = await links();
    assert.equal(seen.get("pl-veth0")?.master, "pl-br0");
    assert.equal(seen.get("pl-veth1")?.mtu, 1300);
    assert.ok(seen.get("pl-veth1")?.flags.includes("UP"));
    const physical = await h.state.get(LinkStatus.ptr("pl-veth1"));
    assert.equal(physical.spec.kind, "veth");
    assert.equal(physical.spec.createdByPlinth, false);
    assert.equal((await h.state.get(LinkStatus.ptr("lo"))).spec.managed, false);
  });

  it("reports bad links in their own status and applies the rest", async () => {
    const missing = await h.waitFor(LinkStatus.ptr("pl-missing"), (r) => r !== undefined);
    assert.equal(missing?.spec.present, false);
    assert.equal(missing?.spec.error, "no such link pl-missing: a physical link must exist");
    const br1 = await h.state.get(LinkStatus.ptr("pl-br1"));
    assert.equal(br1.spec.present, true, "the bridge is created even though a port is missing");
    assert.equal(br1.spec.error, "bridge port pl-nosuch does not exist");
    // This kernel may lack dummy links: then the status says so, and nothing else is affected.
    const dummy = await h.state.get(LinkStatus.ptr("pl-dummy0"));
    if (dummy.spec.present) assert.equal(dummy.spec.kind, "dummy");
    else assert.match(dummy.spec.error ?? "", /^ip link add pl-dummy0 type dummy: .*Unknown device type/);
  });

  it("recreates a deleted bridge and resets a changed MTU, reporting the drift", async () => {
    await h.sh("ip link delete pl-br0 && ip link set pl-veth1 mtu 1500");
    h.runtime.trigger(linkControllerName);
    const br = await h.waitFor(DriftStatus.ptr("link:pl-br0"), (r) => !!r?.spec.repairedAt);
    assert.equal(br?.spec.found, "missing");
    assert.equal(br?.spec.expected, "bridge, up, mtu 1400, ports pl-veth0");
    const veth1 = await h.waitFor(DriftStatus.ptr("link:pl-veth1"), (r) => !!r?.spec.repairedAt);
    assert.equal(veth1?.spec.found, "mtu 1500");
    const seen = await links();
    assert.equal(seen.get("pl-veth0")?.master, "pl-br0");
    assert.equal(seen.get("pl-br0")?.mtu, 1400);
    assert.equal(seen.get("pl-veth1")?.mtu, 1300);
  });

  it("releases a port that leaves the bridge's spec", async () => {
    await h.apply([bridge([]), veth].join("---\n"));
    await h.waitFor(LinkStatus.ptr("pl-veth0"), (r) => r !== undefined && r.spec.master === undefined);
    assert.equal((await links()).get("pl-veth0")?.master, undefined);
    await h.waitFor(LinkStatus.ptr("pl-br1"), (r) => r === undefined);
    assert.equal((await links()).has("pl-br1"), false, "a bridge Plinth created goes with its spec");
  });

  it("creates a veth pair whose far end can join a bridge, and reports a bond the kernel lacks", async () => {
    await h.apply([bridge(["pl-veth0", "pl-pair1"]), veth, pair, bond].join("---\n"));
    const near = await h.waitFor(
      LinkStatus.ptr("pl-pair0"),
      (r) => r?.spec.up === true && r.spec.mtu === 1350,
    );
    assert.equal(near?.spec.kind, "veth");
    assert.equal(near?.spec.createdByPlinth, true);
    const seen = await h.waitFor(LinkStatus.ptr("pl-pair1"), (r) => r?.spec.master === "pl-br0");
    assert.equal(seen?.spec.kind, "veth");
    assert.ok((await links()).get("pl-pair1")?.flags.includes("UP"), "the far end comes up with its pair");
    // This kernel may lack bonds: then the status says so in words, and the port stays where it was.
    const b = await h.waitFor(
      LinkStatus.ptr("pl-bond0"),
      (r) => r !== undefined && (r.spec.present || !!r.spec.error),
    );
    if (b?.spec.present) {
      assert.equal(b.spec.kind, "bond");
      assert.equal((await links()).get("pl-veth1")?.master, "pl-bond0");
    } else {
      assert.equal(b?.spec.error, "this kernel has no bond link type (is the bonding module loaded?)");
      assert.equal((await links()).get("pl-veth1")?.master, undefined);
    }
  });

  it("deletes the links it created when their documents go away, and keeps the others", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: links-box\n");
    await h.waitFor(LinkStatus.ptr("pl-br0"), (r) => r === undefined);
    const seen = await links();
    assert.equal(seen.has("pl-br0"), false);
    await h.waitFor(LinkStatus.ptr("pl-pair0"), (r) => r === undefined);
    assert.equal((await links()).has("pl-pair1"), false, "a veth pair goes with its spec, both ends");
    assert.equal(seen.has("pl-veth1"), true);
    assert.equal(
      (await h.waitFor(LinkStatus.ptr("pl-veth1"), (r) => r?.spec.managed === false))?.spec.mtu,
      1300,
    );
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine({ links: names }), machine);
  });
});
