import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SpecOf } from "../../runtime/resource/definition.ts";
import type { Affiliate } from "../resources/affiliate.ts";
import { buildPeerSpecs } from "./peer-specs.ts";

type AffiliateValue = SpecOf<typeof Affiliate>;

function affiliate(nodeId: string, more: Partial<AffiliateValue> & { key?: string; prefixes?: string[] }) {
  const { key, prefixes, ...rest } = more;
  return {
    nodeId,
    hostname: `host-${nodeId}`,
    nodename: `host-${nodeId}`,
    machineType: "worker",
    operatingSystem: "Debian",
    addresses: [],
    endpoints: [],
    source: "discovery" as const,
    stale: false,
    ...(key === undefined
      ? {}
      : { mesh: { publicKey: key, address: `fd00::${nodeId}`, additionalPrefixes: prefixes ?? [] } }),
    ...rest,
  } satisfies AffiliateValue;
}

const self = { publicKey: "SELF", ownPrefixes: ["10.0.0.1", "fd00::1"] };

describe("mesh peer specs", () => {
  it("allowed IPs: the mesh /128, node addresses as host prefixes, advertised networks", () => {
    const peers = buildPeerSpecs(
      new Map([
        [
          "b",
          affiliate("b", {
            key: "KEYB",
            addresses: ["10.0.0.2", "2001:db8::2"],
            endpoints: ["10.0.0.2:51820"],
            prefixes: ["192.168.10.7/24"],
          }),
        ],
      ]),
      self,
    );
    assert.deepEqual(peers.get("b"), {
      nodeId: "b",
      hostname: "host-b",
      publicKey: "KEYB",
      address: "fd00::b",
      allowedIps: ["fd00::b/128", "10.0.0.2/32", "2001:db8::2/128", "192.168.10.0/24"],
      endpoints: ["10.0.0.2:51820"],
      overlaps: [],
    });
  });

  it("leaves out affiliates without a mesh key and this node's own key", () => {
    const peers = buildPeerSpecs(
      new Map([
        ["x", affiliate("x", {})],
        ["y", affiliate("y", { key: "SELF" })],
        ["z", affiliate("z", { key: "KEYZ" })],
      ]),
      self,
    );
    assert.deepEqual([...peers.keys()], ["z"]);
  });

  it("gives a prefix claimed twice to the lowest node id, on every node alike, and reports it", () => {
    const input: [string, AffiliateValue][] = [
      ["r2", affiliate("a2", { key: "K2", prefixes: ["192.168.10.0/24"], addresses: ["10.0.0.9"] })],
      ["r1", affiliate("a1", { key: "K1", prefixes: ["192.168.10.0/24", "10.9.0.0/16"] })],
      ["r3", affiliate("a3", { key: "K3", prefixes: ["10.9.0.0/16"], addresses: ["10.0.0.9"] })],
    ];
    for (const order of [input, [...input].reverse()]) {
      const peers = buildPeerSpecs(new Map(order), self);
      assert.deepEqual(peers.get("r1")?.allowedIps, ["fd00::a1/128", "192.168.10.0/24", "10.9.0.0/16"]);
      assert.deepEqual(peers.get("r1")?.overlaps, []);
      assert.deepEqual(peers.get("r2")?.allowedIps, ["fd00::a2/128", "10.0.0.9/32"]);
      assert.deepEqual(peers.get("r2")?.overlaps, [{ prefix: "192.168.10.0/24", keptBy: "a1" }]);
      assert.deepEqual(peers.get("r3")?.allowedIps, ["fd00::a3/128"]);
      assert.deepEqual(peers.get("r3")?.overlaps, [
        { prefix: "10.0.0.9/32", keptBy: "a2" },
        { prefix: "10.9.0.0/16", keptBy: "a1" },
      ]);
    }
  });

  it("never routes a peer's loopback, link-local, unspecified or multicast addresses", () => {
    const peers = buildPeerSpecs(
      new Map([
        [
          "d",
          affiliate("d", {
            key: "KD",
            addresses: [
              "127.0.0.1",
              "::1",
              "169.254.1.1",
              "fe80::1",
              "0.0.0.0",
              "::",
              "224.0.0.1",
              "10.0.0.5",
            ],
          }),
        ],
      ]),
      self,
    );
    assert.deepEqual(peers.get("d")?.allowedIps, ["fd00::d/128", "10.0.0.5/32"]);
  });

  it("never routes this node's own addresses to a peer, nor a key twice", () => {
    const peers = buildPeerSpecs(
      new Map([
        ["a", affiliate("a", { key: "KA", addresses: ["10.0.0.1", "10.0.0.3"] })],
        ["b", affiliate("b", { key: "KA", addresses: ["10.0.0.4"] })],
      ]),
      self,
    );
    assert.deepEqual(peers.get("a")?.allowedIps, ["fd00::a/128", "10.0.0.3/32"]);
    assert.equal(peers.has("b"), false);
  });
});
