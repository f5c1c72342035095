import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DriftStatus, EtcFileStatus, resolvConfId } from "../../resources/index.ts";
import { createResolverConfigController } from "../config/resolver-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createResolvConfController, resolvConfControllerName } from "./resolv-conf-controller.ts";

describe("/etc/resolv.conf controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const ptr = EtcFileStatus.ptr(resolvConfId);
  const user = "nameserver 192.0.2.53\noptions edns0\n";

  before(async () => {
    machine = await snapshotMachine();
    h = await createHostHarness({
      name: "resolv-box",
      controllers: (o) => [createResolverConfigController({ mode: "netns" }), createResolvConfController(o)],
    });
    // Replace whatever /etc/resolv.conf is in the copy (possibly a link into the real /run).
    await h.sh(`rm -f /etc/resolv.conf && printf '${user}' > /etc/resolv.conf`);
  });
  after(() => h.close());

  it("puts the name servers and search domains first, in a managed block", async () => {
    await h.apply(
      "apiVersion: v1alpha1\nkind: Resolvers\nnameservers: [10.0.0.53, fd00::53]\nsearchDomains: [demo.local]\n",
    );
    await h.waitFor(ptr, (r) => r?.spec.entries === 3);
    const text = await h.sh("cat /etc/resolv.conf");
    const lines = text.split("\n");
    assert.match(lines[0]!, /^# BEGIN PLINTH MANAGED BLOCK/);
    assert.deepEqual(lines.slice(1, 5), [
      "nameserver 10.0.0.53",
      "nameserver fd00::53",
      "search demo.local",
      "# END PLINTH MANAGED BLOCK",
    ]);
    assert.ok(text.endsWith(user));
  });

  it("updates the block in place when the document changes", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Resolvers\nnameservers: [10.0.0.54]\n");
    await h.waitFor(ptr, (r) => r?.spec.entries === 1);
    const text = await h.sh("cat /etc/resolv.conf");
    assert.equal(text.split("\n")[1], "nameserver 10.0.0.54");
    assert.equal(text.match(/BEGIN PLINTH/g)?.length, 1);
  });

  it("repairs the block after an edit and reports the drift", async () => {
    await h.sh("sed -i 's/^nameserver 10.0.0.54$/nameserver 8.8.8.8/' /etc/resolv.conf");
    h.runtime.trigger(resolvConfControllerName);
    const drift = await h.waitFor(DriftStatus.ptr("etcfile:resolv.conf"), (r) => !!r?.spec.repairedAt);
    assert.match(drift!.spec.found, /unexpected "nameserver 8\.8\.8\.8"/);
    assert.match(await h.sh("cat /etc/resolv.conf"), /\nnameserver 10\.0\.0\.54\n/);
  });

  it("removes the block when the document goes away", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: resolv-box\n");
    await h.waitFor(ptr, (r) => r === undefined);
    assert.equal(await h.sh("cat /etc/resolv.conf"), user);
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(), machine);
  });
});
