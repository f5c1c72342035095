import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AddressStatus, DriftStatus, idFromText, NodeAddress } from "../../resources/index.ts";
import { createAddressConfigController } from "../config/address-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { addressControllerName, createAddressController } from "./address-controller.ts";

const config = `apiVersion: v1alpha1
kind: Address
name: pa-veth0
addresses: [10.77.0.2/24, "fd00:77:0::2/64"]
---
apiVersion: v1alpha1
kind: Address
name: pa-late
addresses: [10.78.0.2/24]
`;
const ptr = (link: string, address: string) => AddressStatus.ptr(idFromText(`${link}/${address}`));
const watch = { links: ["pa-veth0", "pa-veth1", "pa-late"], addresses: ["10.77.", "10.78.", "fd00:77:"] };

describe("address controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;
  const addressesOf = async (link: string) => {
    const [l] = JSON.parse(await h.sh(`ip -json address show dev ${link}`)) as {
      addr_info: { local: string; prefixlen: number }[];
    }[];
    return l!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  };

  before(async () => {
    machine = await snapshotMachine(watch);
    h = await createHostHarness({
      name: "addr-box",
      controllers: (o) => [createAddressConfigController({ mode: "netns" }), createAddressController(o)],
    });
    await h.sh(
      "ip link add pa-veth0 type veth peer name pa-veth1 && ip link set pa-veth0 up && ip link set pa-veth1 up && ip address add 10.77.1.5/24 dev pa-veth1",
    );
  });
  after(() => h.close());

  it("assigns addresses, reports every address and the node's address sets", async () => {
    await h.apply(config);
    const v4 = await h.waitFor(ptr("pa-veth0", "10.77.0.2/24"), (r) => r?.spec.present === true);
    assert.deepEqual(
      { ...v4?.spec, specHash: undefined },
      {
        link: "pa-veth0",
        address: "10.77.0.2/24",
        family: 4,
        present: true,
        scope: "global",
        managed: true,
        createdByPlinth: true,
        specHash: undefined,
      },
    );
    assert.equal(
      (await h.waitFor(ptr("pa-veth0", "fd00:77::2/64"), (r) => r?.spec.present === true))?.spec.family,
      6,
    );
    const onLink = await addressesOf("pa-veth0");
    assert.ok(onLink.includes("10.77.0.2/24") && onLink.includes("fd00:77::2/64"), onLink.join(" "));
    const theirs = await h.state.get(ptr("pa-veth1", "10.77.1.5/24"));
    assert.equal(theirs.spec.managed, false);
    assert.ok(
      (await h.state.list(AddressStatus.kind())).some((r) => r.metadata.id === idFromText("lo/127.0.0.1/8")),
    );

    const managed = await h.waitFor(NodeAddress.ptr("managed"), (r) => r?.spec.addresses.length === 2);
    assert.deepEqual(managed?.spec.addresses, ["10.77.0.2/24", "fd00:77::2/64"]);
    assert.deepEqual((await h.state.get(NodeAddress.ptr("default"))).spec.addresses, [
      "10.77.0.2/24",
      "fd00:77::2/64",
    ]);
    const current = (await h.state.get(NodeAddress.ptr("current"))).spec.addresses;
    assert.ok(current.includes("10.77.1.5/24") && !current.includes("127.0.0.1/8"), current.join(" "));
  });

  it("reports an address on a missing link and assigns it once the link appears", async () => {
    const late = await h.waitFor(ptr("pa-late", "10.78.0.2/24"), (r) => r !== undefined);
    assert.equal(late?.spec.present, false);
    assert.equal(late?.spec.error, "cannot assign 10.78.0.2/24 to pa-late: link pa-late does not exist");
    await h.sh("ip link add pa-late type bridge");
    h.runtime.trigger(addressControllerName);
    const assigned = await h.waitFor(ptr("pa-late", "10.78.0.2/24"), (r) => r?.spec.present === true);
    assert.equal(assigned?.spec.error, undefined);
    assert.deepEqual(await addressesOf("pa-late"), ["10.78.0.2/24"]);
  });

  it("puts back an address removed behind its back and reports the drift", async () => {
    await h.sh("ip address delete 10.77.0.2/24 dev pa-veth0");
    h.runtime.trigger(addressControllerName);
    const drift = await h.waitFor(
      DriftStatus.ptr(`address:${idFromText("pa-veth0/10.77.0.2/24")}`),
      (r) => !!r?.spec.repairedAt,
    );
    assert.equal(drift?.spec.item, "address 10.77.0.2/24 on pa-veth0");
    assert.equal(drift?.spec.found, "missing");
    assert.ok((await addressesOf("pa-veth0")).includes("10.77.0.2/24"));
  });

  it("removes the addresses it assigned when their documents go away, and keeps the others", async () => {
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: addr-box\n");
    await h.waitFor(ptr("pa-veth0", "10.77.0.2/24"), (r) => r === undefined);
    const left = await addressesOf("pa-veth0");
    assert.ok(!left.includes("10.77.0.2/24") && !left.includes("fd00:77::2/64"), left.join(" "));
    assert.deepEqual(await addressesOf("pa-veth1").then((a) => a.filter((x) => x.startsWith("10."))), [
      "10.77.1.5/24",
    ]);
    assert.deepEqual(
      (await h.waitFor(NodeAddress.ptr("managed"), (r) => r?.spec.addresses.length === 0))?.spec.addresses,
      [],
    );
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine(watch), machine);
  });
});
