import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AddressStatus,
  DriftStatus,
  EtcFileStatus,
  FileStatus,
  HostnameStatus,
  idFromText,
  LinkStatus,
  RouteStatus,
  SysctlStatus,
} from "../resources/index.ts";
import { createHostControllers } from "./host-controllers.ts";
import { sysctlControllerName } from "./kernel/sysctl-controller.ts";
import { etcHostsControllerName } from "./network/etc-hosts-controller.ts";
import { linkControllerName } from "./network/link-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "./testing/host-harness.ts";

const config = `apiVersion: v1alpha1
kind: Hostname
hostname: all-in-one
---
apiVersion: v1alpha1
kind: StaticHosts
hosts:
  - ip: 10.66.0.1
    aliases: [gateway.demo.local]
---
apiVersion: v1alpha1
kind: Resolvers
nameservers: [10.66.0.53]
---
apiVersion: v1alpha1
kind: Sysctls
sysctls:
  net.ipv4.ip_forward: "1"
  net.ipv4.no_such_key: "1"
---
apiVersion: v1alpha1
kind: Files
files:
  - path: /etc/plinth-all-in-one
    content: "hello\\n"
  - path: /var/ro/plinth-all-in-one
    content: "never\\n"
---
apiVersion: v1alpha1
kind: Link
name: pi-br0
type: bridge
bridge:
  ports: [pi-veth0]
---
apiVersion: v1alpha1
kind: Address
name: pi-br0
addresses: [10.66.0.2/24]
---
apiVersion: v1alpha1
kind: Address
name: pi-missing
addresses: [10.67.0.2/24]
---
apiVersion: v1alpha1
kind: Route
name: lab
destination: 10.68.0.0/16
gateway: 10.66.0.1
link: pi-br0
`;
const watch = {
  files: ["/etc/plinth-all-in-one", "/var/ro/plinth-all-in-one"],
  links: ["pi-br0", "pi-veth0", "pi-veth1", "pi-missing"],
  addresses: ["10.66.", "10.67.", "10.68."],
};

describe("host controllers together", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  let forwardBefore: string;

  before(async () => {
    machine = await snapshotMachine(watch);
    h = await createHostHarness({
      name: "all-in-one-box",
      controllers: (o) => createHostControllers({ ...o, mode: "netns" }),
    });
    await h.sh("ip link add pi-veth0 type veth peer name pi-veth1");
    await h.sh("mkdir -p /var/ro && mount --bind /var/ro /var/ro && mount -o remount,bind,ro /var/ro");
    forwardBefore = (await h.sh("cat /proc/sys/net/ipv4/ip_forward")).trim();
  });
  after(() => h.close());

  it("apply the whole config; each bad item fails alone with a clear error", async () => {
    await h.apply(config);
    // The route needs the bridge (LinkController) and its address (AddressController) first.
    const lab = await h.waitFor(RouteStatus.ptr("lab"), (r) => r?.spec.present === true);
    assert.equal(lab?.spec.device, "pi-br0");
    assert.equal(
      (await h.waitFor(HostnameStatus.ptr("hostname"), (r) => r?.spec.managed === true))?.spec.hostname,
      "all-in-one",
    );
    assert.equal((await h.sh("hostname")).trim(), "all-in-one");
    await h.waitFor(EtcFileStatus.ptr("hosts"), (r) => r?.spec.entries === 1);
    await h.waitFor(EtcFileStatus.ptr("resolv.conf"), (r) => r?.spec.entries === 1);
    assert.match(await h.sh("cat /etc/hosts"), /\n10\.66\.0\.1 gateway\.demo\.local\n/);
    assert.match(await h.sh("cat /etc/resolv.conf"), /\nnameserver 10\.66\.0\.53\n/);
    assert.equal(
      (await h.waitFor(SysctlStatus.ptr("net.ipv4.ip_forward"), (r) => r?.spec.observed === "1"))?.spec.error,
      undefined,
    );
    assert.equal(await h.sh("cat /etc/plinth-all-in-one"), "hello\n");

    const errors = {
      sysctl: (await h.waitFor(SysctlStatus.ptr("net.ipv4.no_such_key"), (r) => !!r?.spec.error))?.spec.error,
      file: (await h.waitFor(FileStatus.ptr(idFromText("/var/ro/plinth-all-in-one")), (r) => !!r?.spec.error))
        ?.spec.error,
      address: (
        await h.waitFor(AddressStatus.ptr(idFromText("pi-missing/10.67.0.2/24")), (r) => !!r?.spec.error)
      )?.spec.error,
    };
    assert.equal(errors.sysctl, "no such sysctl net.ipv4.no_such_key");
    assert.match(errors.file ?? "", /^cannot write \/var\/ro\/plinth-all-in-one: EROFS/);
    assert.equal(errors.address, "cannot assign 10.67.0.2/24 to pi-missing: link pi-missing does not exist");
    for (const kind of [LinkStatus, AddressStatus, RouteStatus, FileStatus, SysctlStatus, EtcFileStatus]) {
      const failing = (await h.state.list(kind.kind()))
        .filter((r) => (r.spec as { error?: string }).error !== undefined)
        .map((r) => r.metadata.id);
      const expected = {
        SysctlStatus: ["net.ipv4.no_such_key"],
        FileStatus: [idFromText("/var/ro/plinth-all-in-one")],
        AddressStatus: [idFromText("pi-missing/10.67.0.2/24")],
      }[kind.type as string];
      assert.deepEqual(failing, expected ?? [], `${kind.type} errors`);
    }
  });

  it("write nothing when a drift check finds nothing to do", async () => {
    const versions = async () => {
      const all = await Promise.all(
        [LinkStatus, AddressStatus, RouteStatus, FileStatus, SysctlStatus, EtcFileStatus, HostnameStatus].map(
          (d) => h.state.list(d.kind()),
        ),
      );
      return Object.fromEntries(
        all.flat().map((r) => [`${r.metadata.type}/${r.metadata.id}`, r.metadata.version]),
      );
    };
    const operators = h.runtime.graph().controllers.filter((n) => !n.endsWith("ConfigController"));
    assert.equal(operators.length, 8);
    const counts = async () => {
      const metrics = await h.runtime.metrics.getMetricsAsJSON();
      const sum = (name: string, metricName: string) =>
        (metrics.find((m) => m.name === name)?.values ?? [])
          .filter((v) => ((v as { metricName?: string }).metricName ?? name) === metricName)
          .reduce((total, v) => total + v.value, 0);
      const histogram = "plinth_controller_reconcile_duration_seconds";
      return {
        started: sum("plinth_controller_reconciles_total", "plinth_controller_reconciles_total"),
        ended: sum(histogram, `${histogram}_count`),
      };
    };
    const until = async (done: (c: { started: number; ended: number }) => boolean) => {
      const deadline = Date.now() + 5000;
      for (let c = await counts(); !done(c); c = await counts()) {
        assert.ok(Date.now() < deadline, `reconciles did not settle: ${JSON.stringify(c)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    /** Runs every operator controller once more and waits until none is running. */
    const checkAll = async () => {
      await until((c) => c.ended === c.started);
      const target = (await counts()).started + operators.length;
      for (const name of operators) h.runtime.trigger(name);
      await until((c) => c.started >= target && c.ended === c.started);
    };
    // The kernel settles link states after the first apply: observe once, then compare.
    await checkAll();
    const before = await versions();
    await checkAll();
    assert.deepEqual(await versions(), before);
  });

  it("repair drift everywhere and list every drifted item", async () => {
    await h.sh(
      [
        "sysctl -qw net.ipv4.ip_forward=0",
        "sed -i 's/^10.66.0.1 /10.66.0.111 /' /etc/hosts",
        "ip link delete pi-br0", // takes its address and the route with it
      ].join(" && "),
    );
    h.runtime.trigger(sysctlControllerName);
    h.runtime.trigger(etcHostsControllerName);
    h.runtime.trigger(linkControllerName);
    // The address and route controllers are woken by the link and address changes, not poked.
    const ids = [
      "sysctl:net.ipv4.ip_forward",
      "etcfile:hosts",
      "link:pi-br0",
      `address:${idFromText("pi-br0/10.66.0.2/24")}`,
      "route:lab",
    ];
    for (const id of ids) await h.waitFor(DriftStatus.ptr(id), (r) => !!r?.spec.repairedAt);
    const listed = (await h.state.list(DriftStatus.kind())).map((r) => r.metadata.id).sort();
    assert.deepEqual(listed, [...ids].sort());
    await h.waitFor(RouteStatus.ptr("lab"), (r) => r?.spec.present === true);
    assert.equal((await h.sh("cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
  });

  it("undo what they created when the documents go away; the hostname stays", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: all-in-one\n");
    await h.waitFor(LinkStatus.ptr("pi-br0"), (r) => r === undefined);
    await h.waitFor(RouteStatus.ptr("lab"), (r) => r === undefined);
    await h.waitFor(SysctlStatus.ptr("net.ipv4.ip_forward"), (r) => r === undefined);
    await h.waitFor(FileStatus.ptr(idFromText("/etc/plinth-all-in-one")), (r) => r === undefined);
    await h.waitFor(EtcFileStatus.ptr("hosts"), (r) => r === undefined);
    await h.waitFor(EtcFileStatus.ptr("resolv.conf"), (r) => r === undefined);
    assert.equal((await h.sh("cat /proc/sys/net/ipv4/ip_forward")).trim(), forwardBefore);
    assert.doesNotMatch(await h.sh("cat /etc/hosts /etc/resolv.conf"), /PLINTH|10\.66\./);
    assert.equal(await h.sh("ls /etc/plinth-all-in-one 2>/dev/null || echo gone"), "gone\n");
    assert.doesNotMatch(await h.sh("ip -json link show; ip -json route show"), /pi-br0|10\.68\./);
    assert.equal((await h.sh("hostname")).trim(), "all-in-one");
    assert.deepEqual(await h.state.list(DriftStatus.kind()), [], "a new apply starts a new drift report");
  });

  it("leave the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(watch), machine);
  });
});
