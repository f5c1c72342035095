import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DriftStatus, EtcFileStatus, etcHostsId } from "../../resources/index.ts";
import { createStaticHostsConfigController } from "../config/static-hosts-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createEtcHostsController, etcHostsControllerName } from "./etc-hosts-controller.ts";

const config = `apiVersion: v1alpha1
kind: StaticHosts
hosts:
  - ip: 10.5.0.2
    aliases: [cp-1, cp-1.demo.local]
  - ip: fd00::3
    aliases: [cp-2]
`;

describe("/etc/hosts controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const ptr = EtcFileStatus.ptr(etcHostsId);
  const user = "127.0.0.1 localhost\n192.0.2.1 printer # mine\n";

  before(async () => {
    machine = await snapshotMachine();
    h = await createHostHarness({
      name: "hosts-box",
      controllers: (o) => [createStaticHostsConfigController({ mode: "netns" }), createEtcHostsController(o)],
    });
    await h.sh(`printf '${user}' > /etc/hosts`);
  });
  after(() => h.close());

  it("writes the entries in a managed block and keeps the user's lines", async () => {
    await h.apply(config);
    const st = await h.waitFor(ptr, (r) => r?.spec.entries === 2);
    const text = await h.sh("cat /etc/hosts");
    assert.match(
      text,
      /^# BEGIN PLINTH MANAGED BLOCK[^\n]*\n10\.5\.0\.2 cp-1 cp-1\.demo\.local\nfd00::3 cp-2\n# END PLINTH MANAGED BLOCK\n/,
    );
    assert.ok(text.endsWith(user), "the user's lines follow the block unchanged");
    assert.equal(st?.spec.sha256, createHash("sha256").update(text).digest("hex"));
    assert.equal(st?.spec.error, undefined);
    assert.match(await h.sh("getent hosts cp-1"), /^10\.5\.0\.2\s+cp-1/);
  });

  it("undoes edits inside the block, keeps edits outside it, and reports the drift", async () => {
    await h.sh(
      "sed -i 's/^10.5.0.2 /10.5.0.99 /' /etc/hosts && echo '192.0.2.7 added-by-user' >> /etc/hosts",
    );
    h.runtime.trigger(etcHostsControllerName);
    const drift = await h.waitFor(DriftStatus.ptr("etcfile:hosts"), (r) => !!r?.spec.repairedAt);
    assert.equal(
      drift?.spec.found,
      'managed block changed: missing "10.5.0.2 cp-1 cp-1.demo.local"; unexpected "10.5.0.99 cp-1 cp-1.demo.local"',
    );
    const text = await h.sh("cat /etc/hosts");
    assert.match(text, /\n10\.5\.0\.2 cp-1 cp-1\.demo\.local\n/);
    assert.doesNotMatch(text, /10\.5\.0\.99/);
    assert.ok(text.endsWith(`${user}192.0.2.7 added-by-user\n`));
  });

  it("puts back a deleted block", async () => {
    await h.sh(`printf '${user}' > /etc/hosts`);
    h.runtime.trigger(etcHostsControllerName);
    const drift = await h.waitFor(
      DriftStatus.ptr("etcfile:hosts"),
      (r) => r?.spec.count === 2 && !!r.spec.repairedAt,
    );
    assert.equal(drift?.spec.found, "managed block missing");
    assert.match(await h.sh("cat /etc/hosts"), /^# BEGIN PLINTH MANAGED BLOCK/);
  });

  it("removes the block when the document goes away", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: hosts-box\n");
    await h.waitFor(ptr, (r) => r === undefined);
    assert.equal(await h.sh("cat /etc/hosts"), user);
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(), machine);
  });
});
