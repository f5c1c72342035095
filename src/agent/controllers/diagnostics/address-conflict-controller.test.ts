import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  AddressStatus,
  Affiliate,
  Diagnostic,
  NodeAddress,
  NodeIdentity,
  nodeIdentityId,
} from "../../resources/index.ts";
import { createAddressConflictController } from "./address-conflict-controller.ts";
import { type DiagnosticsHarness, startDiagnosticsHarness } from "./testing/diagnostics-harness.ts";

const affiliate = (nodeId: string, hostname: string, addresses: string[]) =>
  Affiliate.make(nodeId, {
    nodeId,
    hostname,
    nodename: hostname,
    machineType: "worker",
    operatingSystem: "Debian",
    addresses,
    endpoints: [],
    source: "discovery",
    stale: false,
  });

const onLink = (id: string, link: string, address: string, scope = "global") =>
  AddressStatus.make(id, {
    link,
    address,
    family: 4,
    present: true,
    scope,
    managed: false,
    createdByPlinth: false,
  });

describe("address conflict controller", () => {
  let h: DiagnosticsHarness;
  beforeEach(async () => {
    h = await startDiagnosticsHarness(createAddressConflictController());
  });
  afterEach(() => h.close());

  it("reports an address of this machine that another node announces, until that node changes it", async () => {
    await h.state.create(NodeAddress.make("current", { addresses: ["10.5.0.2/24", "fd00::2/64"] }));
    await h.state.create(NodeIdentity.make(nodeIdentityId, { nodeId: "n1" }));
    // This machine's own record (a stale copy) is no conflict.
    await h.state.create(affiliate("n1", "cp-1", ["10.5.0.2", "fd00::2"]));
    await h.state.create(affiliate("n2", "cp-2", ["10.5.0.3"]));
    await h.state.create(affiliate("n3", "cp-3", ["10.5.0.2", "10.5.0.4"]));
    await h.diagnostics((ids) => ids.includes("address-conflict-10.5.0.2"));
    const d = await h.state.get(Diagnostic.ptr("address-conflict-10.5.0.2"));
    assert.equal(d.spec.severity, "error");
    assert.match(d.spec.message, /address 10\.5\.0\.2 of this machine is also used by cp-3 \(node id n3\)/);
    assert.deepEqual(await h.diagnostics(() => true), ["address-conflict-10.5.0.2"]);

    await h.state.modify(Affiliate.ptr("n3"), (r) => {
      r.spec.addresses = ["10.5.0.4"];
    });
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 0), []);
  });

  it("reports one global address on two links, not link-local ones", async () => {
    await h.state.create(onLink("a", "eth0", "10.9.0.1/24"));
    await h.state.create(onLink("b", "eth1", "10.9.0.1/16"));
    await h.state.create(onLink("c", "eth0", "fe80::1/64", "link"));
    await h.state.create(onLink("d", "eth1", "fe80::1/64", "link"));
    assert.deepEqual(await h.diagnostics((ids) => ids.length > 0), ["address-on-two-links-10.9.0.1"]);
    const d = await h.state.get(Diagnostic.ptr("address-on-two-links-10.9.0.1"));
    assert.equal(d.spec.message, "address 10.9.0.1 is on 2 links: eth0, eth1");

    await h.state.teardown(AddressStatus.ptr("b"));
    await h.state.destroy(AddressStatus.ptr("b"));
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 0), []);
  });
});
