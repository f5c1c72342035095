import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DriftStatus, SysctlStatus } from "../../resources/index.ts";
import { createSysctlConfigController } from "../config/sysctl-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createSysctlController, sysctlControllerName } from "./sysctl-controller.ts";

const keys = ["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "net.ipv4.tcp_rmem"];
const config = (sysctls: Record<string, string>) => `apiVersion: v1alpha1
kind: Sysctls
sysctls:
${Object.entries(sysctls)
  .map(([k, v]) => `  ${k}: "${v}"`)
  .join("\n")}
`;

describe("sysctl controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  let originals: Record<string, string>;
  const inBox = async (key: string) => (await h.sh(`cat /proc/sys/${key.replaceAll(".", "/")}`)).trim();

  before(async () => {
    machine = await snapshotMachine({ sysctls: keys });
    h = await createHostHarness({
      name: "sysctl-1",
      controllers: (o) => [createSysctlConfigController({ mode: "netns" }), createSysctlController(o)],
    });
    originals = Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await inBox(k)] as const)));
  });
  after(() => h.close());

  it("sets sysctls and reports the observed value and the original", async () => {
    const forward = originals["net.ipv4.ip_forward"] === "1" ? "0" : "1";
    await h.apply(config({ "net.ipv4.ip_forward": forward, "net/ipv4/conf/all/rp_filter": "2" }));
    const st = await h.waitFor(SysctlStatus.ptr("net.ipv4.ip_forward"), (r) => r?.spec.observed === forward);
    assert.equal(st?.spec.original, originals["net.ipv4.ip_forward"]);
    assert.equal(st?.spec.error, undefined);
    assert.equal(await inBox("net.ipv4.ip_forward"), forward);
    // The slash form is stored under its dot form.
    const rp = await h.waitFor(
      SysctlStatus.ptr("net.ipv4.conf.all.rp_filter"),
      (r) => r?.spec.observed === "2",
    );
    assert.equal(rp?.spec.key, "net.ipv4.conf.all.rp_filter");
    assert.equal(await inBox("net.ipv4.conf.all.rp_filter"), "2");
  });

  it("reports a key that does not exist and a refused value, and applies the rest", async () => {
    await h.apply(
      config({
        "net.ipv4.ip_forward": "1",
        "net.ipv4.no_such_key": "1",
        "net.ipv4.conf.all.rp_filter": "not-a-number",
        "net.ipv4.tcp_rmem": "4096 65536 1048576",
      }),
    );
    const missing = await h.waitFor(SysctlStatus.ptr("net.ipv4.no_such_key"), (r) => !!r?.spec.error);
    assert.equal(missing?.spec.error, "no such sysctl net.ipv4.no_such_key");
    assert.equal(missing?.spec.observed, undefined);
    const refused = await h.waitFor(SysctlStatus.ptr("net.ipv4.conf.all.rp_filter"), (r) => !!r?.spec.error);
    assert.match(
      refused!.spec.error!,
      /cannot set sysctl net\.ipv4\.conf\.all\.rp_filter=not-a-number: EINVAL/,
    );
    assert.equal(refused?.spec.observed, "2", "the value before the refused write stays");
    // The kernel prints tcp_rmem with tabs: still equal.
    const rmem = await h.waitFor(
      SysctlStatus.ptr("net.ipv4.tcp_rmem"),
      (r) => r?.spec.observed !== undefined,
    );
    assert.equal(rmem?.spec.error, undefined);
    assert.equal((await inBox("net.ipv4.tcp_rmem")).split(/\s+/).join(" "), "4096 65536 1048576");
    assert.equal(await inBox("net.ipv4.ip_forward"), "1");
  });

  it("repairs a sysctl changed behind its back and reports the drift", async () => {
    await h.sh("sysctl -qw net.ipv4.ip_forward=0");
    h.runtime.trigger(sysctlControllerName);
    const drift = await h.waitFor(DriftStatus.ptr("sysctl:net.ipv4.ip_forward"), (r) => !!r?.spec.repairedAt);
    assert.equal(drift?.spec.found, "0");
    assert.equal(drift?.spec.expected, "1");
    assert.equal(drift?.spec.item, "sysctl net.ipv4.ip_forward");
    assert.equal(drift?.spec.controller, sysctlControllerName);
    assert.equal(drift?.spec.count, 1);
    assert.equal(await inBox("net.ipv4.ip_forward"), "1");
    // Items that never matched (errors) are not drift.
    assert.equal(await h.state.find(DriftStatus.ptr("sysctl:net.ipv4.no_such_key")), undefined);
  });

  it("checks for drift on its own, periodically", async () => {
    // A fresh controller with a short period: nothing pokes it.
    const fast = await createHostHarness({
      name: "sysctl-2",
      driftCheckMs: 100,
      controllers: (o) => [createSysctlConfigController({ mode: "netns" }), createSysctlController(o)],
    });
    try {
      await fast.apply(config({ "net.ipv4.conf.all.rp_filter": "2" }));
      await fast.waitFor(SysctlStatus.ptr("net.ipv4.conf.all.rp_filter"), (r) => r?.spec.observed === "2");
      await fast.sh("sysctl -qw net.ipv4.conf.all.rp_filter=0");
      const drift = await fast.waitFor(
        DriftStatus.ptr("sysctl:net.ipv4.conf.all.rp_filter"),
        (r) => !!r?.spec.repairedAt,
      );
      assert.equal(drift?.spec.found, "0");
      assert.equal((await fast.sh("cat /proc/sys/net/ipv4/conf/all/rp_filter")).trim(), "2");
    } finally {
      await fast.close();
    }
  });

  it("restores the original values when the document goes away, and a new apply clears the drift report", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: sysctl-1\n");
    for (const key of keys) {
      await h.waitFor(SysctlStatus.ptr(key), (r) => r === undefined);
      assert.equal(await inBox(key), originals[key], key);
    }
    await h.waitFor(DriftStatus.ptr("sysctl:net.ipv4.ip_forward"), (r) => r === undefined);
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine({ sysctls: keys }), machine);
  });
});
