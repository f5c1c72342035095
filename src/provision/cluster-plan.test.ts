import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isNodeNamespace, planCluster, possibleNames } from "./cluster-plan.ts";

describe("planCluster", () => {
  it("flat: one bridge, the host first, nodes next, the discovery service last with the mesh", () => {
    const plan = planCluster({
      name: "demo",
      controlplanes: 1,
      workers: 2,
      cidr: "10.5.0.0/24",
      withMesh: true,
    });
    assert.equal(plan.topology, "flat");
    assert.equal(plan.sites.length, 1);
    assert.equal(plan.sites[0]!.hostIp, "10.5.0.1");
    assert.deepEqual(
      plan.nodes.map((n) => [n.ip, n.site, n.defaultGateway, n.meshPort]),
      [
        ["10.5.0.2", 0, undefined, undefined],
        ["10.5.0.3", 0, undefined, undefined],
        ["10.5.0.4", 0, undefined, undefined],
      ],
    );
    assert.equal(plan.discovery?.ip, "10.5.0.254");
    assert.equal(plan.discovery?.url, "http://10.5.0.254:3000");
    assert.equal(plan.discovery?.bridge, plan.bridge);
    assert.equal(
      planCluster({ name: "demo", controlplanes: 1, workers: 0, cidr: "10.5.0.0/24" }).discovery,
      undefined,
    );
  });

  it("nat: sites and the public network carved from the CIDR, a router per site", () => {
    const plan = planCluster({
      name: "demo",
      controlplanes: 1,
      workers: 2,
      cidr: "10.5.0.0/24",
      topology: "nat",
      withMesh: true,
    });
    assert.deepEqual(
      plan.sites.map((s) => [s.cidr, s.hostIp, s.router?.siteIp, s.router?.publicIp]),
      [
        ["10.5.0.0/26", "10.5.0.62", "10.5.0.1", "10.5.0.193"],
        ["10.5.0.64/26", "10.5.0.126", "10.5.0.65", "10.5.0.194"],
      ],
    );
    assert.equal(plan.public?.cidr, "10.5.0.192/26");
    assert.equal(plan.discovery?.ip, "10.5.0.254");
    assert.equal(plan.discovery?.bridge, plan.public?.bridge);
    // Control planes in the first site, workers from the second on; each node its own mesh port.
    assert.deepEqual(
      plan.nodes.map((n) => [n.name, n.ip, n.site, n.defaultGateway, n.meshPort]),
      [
        ["demo-controlplane-1", "10.5.0.2", 0, "10.5.0.1", 51820],
        ["demo-worker-1", "10.5.0.66", 1, "10.5.0.65", 51821],
        ["demo-worker-2", "10.5.0.3", 0, "10.5.0.1", 51822],
      ],
    );
    const names = [
      ...plan.sites.flatMap((s) => [s.bridge, s.router!.siteVeth, s.router!.publicVeth]),
      plan.public!.bridge,
      plan.discovery!.veth,
      ...plan.nodes.map((n) => n.veth),
    ];
    for (const link of names) assert.ok(link.length <= 15, `${link} fits a link name`);
    const possible = possibleNames("demo");
    for (const link of names.filter((n) => !n.startsWith("plv"))) assert.ok(possible.links.includes(link));
    assert.ok(possible.namespaces.includes(plan.sites[1]!.router!.netns));
  });

  it("three sites take quarters of the CIDR, the public network the last", () => {
    const plan = planCluster({
      name: "x",
      controlplanes: 1,
      workers: 3,
      cidr: "10.6.0.0/22",
      topology: "nat",
      sites: 3,
    });
    assert.deepEqual(
      plan.sites.map((s) => s.cidr),
      ["10.6.0.0/24", "10.6.1.0/24", "10.6.2.0/24"],
    );
    assert.equal(plan.public?.cidr, "10.6.3.0/24");
    assert.deepEqual(
      plan.nodes.map((n) => n.site),
      [0, 1, 2, 0],
    );
    assert.equal(plan.discovery, undefined);
  });

  it("refuses bad values, naming the flag", () => {
    const base = { name: "demo", controlplanes: 1, workers: 1, cidr: "10.5.0.0/24" };
    const cases: [object, RegExp][] = [
      [{ topology: "mesh" }, /--topology must be one of flat, nat, current value is 'mesh'/],
      [{ topology: "nat", sites: 1 }, /--sites must be a whole number from 2 to 8, current value is 1/],
      [{ topology: "nat", sites: 9 }, /--sites must be a whole number from 2 to 8/],
      [{ sites: 2 }, /--sites is for --topology nat/],
      [{ topology: "nat", cidr: "10.5.0.0/28" }, /too small for 2 sites.*at least a \/27/],
      [
        { topology: "nat", cidr: "10.5.0.0/27", controlplanes: 5 },
        /each of 2 sites a \/29 with room for 4 nodes, site-1 needs 5/,
      ],
      [{ cidr: "10.5.0.0/30", withMesh: true }, /has room for 0 nodes, 2 requested/],
    ];
    for (const [extra, message] of cases) {
      assert.throws(() => planCluster({ ...base, ...extra }), message);
    }
  });

  it("tells node namespaces from the cluster's other namespaces", () => {
    assert.ok(isNodeNamespace("demo", "plinth-demo-3"));
    assert.ok(!isNodeNamespace("demo", "plinth-demo-router-1"));
    assert.ok(!isNodeNamespace("demo", "plinth-demo-discovery"));
    assert.ok(!isNodeNamespace("demo", "plinth-demo-2-1"));
  });
});
