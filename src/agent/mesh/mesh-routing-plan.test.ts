import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meshRoutingPlan } from "./mesh-routing-plan.ts";

const peers = [
  { allowedIps: ["fd00::2/128", "10.0.0.2/32"], state: "up" as const },
  { allowedIps: ["fd00::3/128", "10.0.0.3/32", "192.168.3.0/24"], state: "down" as const },
  { allowedIps: ["fd00::4/128"], state: "unknown" as const },
];

describe("mesh routing plan", () => {
  it("steers the mesh /64 and every peer's allowed IPs into the mesh", () => {
    const plan = meshRoutingPlan({ prefix: "fd00::/64", mtu: 1420, allowDownPeerBypass: false }, peers);
    assert.deepEqual(plan.destinations, [
      "fd00::/64",
      "fd00::2/128",
      "10.0.0.2/32",
      "fd00::3/128",
      "10.0.0.3/32",
      "192.168.3.0/24",
      "fd00::4/128",
    ]);
    assert.deepEqual(plan.bypass, [], "without allowDownPeerBypass, a down peer's traffic is dropped");
    assert.equal(plan.mtu, 1420);
  });

  it("with allowDownPeerBypass, bypasses the peers that are not up", () => {
    const plan = meshRoutingPlan({ prefix: "fd00::/64", mtu: 1380, allowDownPeerBypass: true }, peers);
    assert.deepEqual(plan.bypass, ["fd00::3/128", "10.0.0.3/32", "192.168.3.0/24", "fd00::4/128"]);
  });
});
