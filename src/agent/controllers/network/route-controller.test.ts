import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DriftStatus, RouteStatus } from "../../resources/index.ts";
import { createRouteConfigController } from "../config/route-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createRouteController, routeControllerName } from "./route-controller.ts";

const route = (body: string) => `apiVersion: v1alpha1\nkind: Route\n${body.trim()}\n`;
const r1 = (gateway: string, metric = 100) =>
  route(`name: r1\ndestination: 10.99.0.0/16\ngateway: ${gateway}\nmetric: ${metric}`);
const others = [
  route('name: r6\ndestination: "fd00:99::/48"\nlink: pr-veth0\nmetric: 50'),
  route("name: default\ngateway: 10.88.0.1"),
  route("name: unreachable\ndestination: 10.98.0.0/16\ngateway: 10.200.0.1"),
  route("name: nolink\ndestination: 10.97.0.0/16\nlink: pr-nosuch"),
];
const watch = {
  links: ["pr-veth0", "pr-veth1"],
  addresses: ["10.99.0.0", "fd00:99:", "10.88.", "10.98.", "10.97."],
};

interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
  protocol?: string;
}

describe("route controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const routes = async (family: 4 | 6 = 4) =>
    JSON.parse(await h.sh(`ip -json -${family} route show`)) as IpRoute[];

  before(async () => {
    machine = await snapshotMachine(watch);
    h = await createHostHarness({
      name: "route-box",
      controllers: (o) => [createRouteConfigController({ mode: "netns" }), createRouteController(o)],
    });
    await h.sh(
      [
        "ip link add pr-veth0 type veth peer name pr-veth1",
        "ip link set pr-veth0 up && ip link set pr-veth1 up",
        "ip address add 10.88.0.2/24 dev pr-veth0",
        "ip address add fd00:88::2/64 dev pr-veth0 nodad",
      ].join(" && "),
    );
  });
  after(() => h.close());

  it("adds routes and reports them as netlink shows them", async () => {
    await h.apply([r1("10.88.0.1"), ...others].join("---\n"));
    const st = await h.waitFor(RouteStatus.ptr("r1"), (r) => r?.spec.present === true);
    assert.equal(st?.spec.device, "pr-veth0");
    assert.equal(st?.spec.protocol, "static");
    assert.equal(st?.spec.createdByPlinth, true);
    assert.ok(
      (await routes()).some((r) => r.dst === "10.99.0.0/16" && r.gateway === "10.88.0.1" && r.metric === 100),
    );
    const def = await h.waitFor(RouteStatus.ptr("default"), (r) => r?.spec.present === true);
    assert.equal(def?.spec.destination, "0.0.0.0/0");
    assert.ok((await routes()).some((r) => r.dst === "default" && r.metric === 1024));
    await h.waitFor(RouteStatus.ptr("r6"), (r) => r?.spec.present === true);
    assert.ok(
      (await routes(6)).some((r) => r.dst === "fd00:99::/48" && r.dev === "pr-veth0" && r.metric === 50),
    );
  });

  it("reports routes the kernel refuses in their own status and applies the rest", async () => {
    const unreachable = await h.waitFor(RouteStatus.ptr("unreachable"), (r) => r !== undefined);
    assert.equal(unreachable?.spec.present, false);
    assert.match(
      unreachable?.spec.error ?? "",
      /^cannot add route 10\.98\.0\.0\/16 via 10\.200\.0\.1 metric 1024: .*Nexthop has invalid gateway/,
    );
    const nolink = await h.state.get(RouteStatus.ptr("nolink"));
    assert.match(nolink.spec.error ?? "", /Cannot find device "pr-nosuch"/);
  });

  it("puts back a deleted route and reports the drift", async () => {
    await h.sh("ip route delete 10.99.0.0/16");
    h.runtime.trigger(routeControllerName);
    const drift = await h.waitFor(DriftStatus.ptr("route:r1"), (r) => !!r?.spec.repairedAt);
    assert.equal(drift?.spec.found, "missing");
    assert.equal(drift?.spec.expected, "10.99.0.0/16 via 10.88.0.1 metric 100");
    assert.ok((await routes()).some((r) => r.dst === "10.99.0.0/16"));
  });

  it("moves a route whose spec changes", async () => {
    await h.apply([r1("10.88.0.3", 200), ...others].join("---\n"));
    await h.waitFor(RouteStatus.ptr("r1"), (r) => r?.spec.metric === 200 && r.spec.present);
    const mine = (await routes()).filter((r) => r.dst === "10.99.0.0/16");
    assert.deepEqual(
      mine.map((r) => [r.gateway, r.metric]),
      [["10.88.0.3", 200]],
    );
  });

  it("deletes the routes it added when their documents go away", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: route-box\n");
    await h.waitFor(RouteStatus.ptr("r1"), (r) => r === undefined);
    assert.deepEqual(
      (await routes()).map((r) => r.dst),
      ["10.88.0.0/24"],
    );
    assert.ok(!(await routes(6)).some((r) => r.dst === "fd00:99::/48"));
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(watch), machine);
  });
});
