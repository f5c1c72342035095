import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DriftStatus, HostnameStatus, hostnameId } from "../../resources/index.ts";
import { createHostnameConfigController } from "../config/hostname-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createHostnameController, hostnameControllerName } from "./hostname-controller.ts";

const doc = (body: string) => `apiVersion: v1alpha1\nkind: Hostname\n${body}\n`;

describe("hostname controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const ptr = HostnameStatus.ptr(hostnameId);

  before(async () => {
    machine = await snapshotMachine();
    h = await createHostHarness({
      name: "hostname-box",
      controllers: (o) => [createHostnameConfigController({ mode: "netns" }), createHostnameController(o)],
    });
  });
  after(() => h.close());

  it("reports the observed hostname without a spec", async () => {
    const st = await h.waitFor(ptr, (r) => r !== undefined);
    assert.deepEqual(st?.spec, { hostname: "hostname-box", etcHostname: "hostname-box", managed: false });
  });

  it("sets the kernel hostname and /etc/hostname", async () => {
    await h.apply(doc("hostname: node-7"));
    const st = await h.waitFor(ptr, (r) => r?.spec.hostname === "node-7");
    assert.equal(st?.spec.etcHostname, "node-7");
    assert.equal(st?.spec.managed, true);
    assert.equal(st?.spec.original, "hostname-box");
    assert.equal(st?.spec.error, undefined);
    assert.equal((await h.sh("hostname")).trim(), "node-7");
    assert.equal(await h.sh("cat /etc/hostname"), "node-7\n");
  });

  it("repairs a hostname changed behind its back and reports the drift", async () => {
    await h.sh("hostname intruder && echo intruder > /etc/hostname");
    h.runtime.trigger(hostnameControllerName);
    const drift = await h.waitFor(DriftStatus.ptr("hostname:hostname"), (r) => !!r?.spec.repairedAt);
    assert.equal(drift?.spec.found, "kernel intruder, /etc/hostname intruder");
    assert.equal(drift?.spec.expected, "node-7");
    assert.equal((await h.sh("hostname")).trim(), "node-7");
    assert.equal(await h.sh("cat /etc/hostname"), "node-7\n");
  });

  it("derives a stable name from the machine id", async () => {
    const machineId = (await h.sh("cat /etc/machine-id 2>/dev/null || true")).trim();
    if (!machineId) await h.sh("echo 0123456789abcdef0123456789abcdef > /etc/machine-id");
    const id = machineId || "0123456789abcdef0123456789abcdef";
    const expected = `plinth-${createHash("sha256").update(id).digest("hex").slice(0, 8)}`;
    await h.apply(doc("auto: stable"));
    const st = await h.waitFor(ptr, (r) => r?.spec.hostname === expected);
    assert.equal(st?.spec.desired, expected);
    assert.equal((await h.sh("hostname")).trim(), expected);
  });

  it("reports an error when the stable name cannot be derived", async () => {
    await h.sh("rm -f /etc/machine-id");
    await h.apply(doc("auto: stable"));
    const st = await h.waitFor(ptr, (r) => r?.spec.error !== undefined);
    assert.match(st!.spec.error!, /machine-id/);
  });

  it("sets the hostname from before Plinth again when the document goes away", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Resolvers\nnameservers: [10.0.0.53]\n");
    const st = await h.waitFor(ptr, (r) => r?.spec.managed === false);
    assert.equal(st?.spec.hostname, "hostname-box");
    assert.equal(st?.spec.original, undefined);
    assert.equal(st?.spec.error, undefined);
    assert.equal((await h.sh("hostname")).trim(), "hostname-box");
    assert.equal(await h.sh("cat /etc/hostname"), "hostname-box\n");
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(), machine);
  });
});
