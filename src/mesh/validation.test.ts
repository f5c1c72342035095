import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Host } from "../agent/host/host.ts";
import { generateMeshKeyPair } from "./keys.ts";
import { configureMeshLink, wireguardGoCommand } from "./link.ts";
import { setPeerEndpoint, syncMeshPeers } from "./peers.ts";
import { applyMeshRouting, removeMesh } from "./routing.ts";

// Bad arguments are refused before anything reaches the host: every host call fails the test.
const untouched = new Proxy({} as Host, {
  get: (_t, prop) => () => assert.fail(`host.${String(prop)} called for invalid input`),
});
const key = generateMeshKeyPair().publicKey;
const link = {
  name: "plinth-mesh",
  privateKey: generateMeshKeyPair().privateKey,
  listenPort: 51820,
  mtu: 1420,
  address: "fd00::1",
  prefix: "fd00::/64",
  fwmark: 0x20,
};
const routing = {
  linkName: "plinth-mesh",
  fwmark: 0x20,
  table: 180,
  rulePriority: 1800,
  destinations: [],
  bypass: [],
  mtu: 1420,
};

describe("mesh argument checks", () => {
  it("names the bad link field and what was expected", async () => {
    await assert.rejects(
      configureMeshLink(untouched, { ...link, name: "a-name-longer-than-15" }),
      /'name' must be a link name/,
    );
    await assert.rejects(configureMeshLink(untouched, { ...link, mtu: 1000 }), {
      name: "RangeError",
      message: /'mtu' must be an integer from 1280 to 65535, current value is 1000/,
    });
    await assert.rejects(
      configureMeshLink(untouched, { ...link, privateKey: "secret" }),
      /'privateKey' must be a WireGuard key/,
    );
    await assert.rejects(
      configureMeshLink(untouched, { ...link, address: "fd00::1/64" }),
      /'address' must be an IPv6 address/,
    );
    await assert.rejects(
      configureMeshLink(untouched, { ...link, prefix: "fd00::/48" }),
      /'prefix' must be an IPv6 \/64/,
    );
    assert.throws(() => wireguardGoCommand("bad name"), /'name'/);
  });

  it("names the bad peer and field", async () => {
    await assert.rejects(
      syncMeshPeers(untouched, "plinth-mesh", [{ publicKey: key, allowedIps: ["10.0.0.1/40"] }]),
      /'peers\[0\]\.allowedIps\[0\]' must be a CIDR/,
    );
    await assert.rejects(
      syncMeshPeers(untouched, "plinth-mesh", [
        { publicKey: key, allowedIps: [] },
        { publicKey: key, allowedIps: [] },
      ]),
      /'peers\[1\]\.publicKey' is listed twice/,
    );
    await assert.rejects(
      syncMeshPeers(untouched, "plinth-mesh", [{ publicKey: key, allowedIps: [], endpoint: "10.0.0.1" }]),
      /'peers\[0\]\.endpoint' must be "ip:port"/,
    );
    await assert.rejects(setPeerEndpoint(untouched, "plinth-mesh", key, "[fd00::1]:70000"), /'endpoint'/);
  });

  it("names the bad routing field", async () => {
    await assert.rejects(
      applyMeshRouting(untouched, { ...routing, steeringMark: 0x60 }),
      /'steeringMark' must share no bit with 'fwmark'/,
    );
    await assert.rejects(
      applyMeshRouting(untouched, { ...routing, table: 254 }),
      /'table' must not be a system table/,
    );
    await assert.rejects(applyMeshRouting(untouched, { ...routing, bypass: ["nope"] }), /'bypass\[0\]'/);
    await assert.rejects(removeMesh(untouched, { linkName: "", table: 180, fwmark: 0x20 }), /'linkName'/);
  });
});
