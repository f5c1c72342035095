import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { filterEndpointAddresses, localEndpoints, parseEndpoint } from "./mesh-endpoints.ts";

const addresses = [
  "10.5.0.2",
  "192.168.1.7/24",
  "fd12:3456:789a:1::5",
  "127.0.0.1",
  "fe80::1",
  "2001:db8::7",
];
const meshPrefix = "fd12:3456:789a:1::/64";

describe("mesh endpoints", () => {
  it("announces every routable address except the mesh's own when there are no filters", () => {
    assert.deepEqual(filterEndpointAddresses(addresses, { filters: [], meshPrefix }), [
      "10.5.0.2",
      "192.168.1.7",
      "2001:db8::7",
    ]);
  });

  it("keeps only addresses in a positive filter; exclusions win", () => {
    assert.deepEqual(
      filterEndpointAddresses(addresses, { filters: ["0.0.0.0/0", "!192.168.0.0/16"], meshPrefix }),
      ["10.5.0.2"],
    );
    assert.deepEqual(filterEndpointAddresses(addresses, { filters: ["!10.0.0.0/8"], meshPrefix }), [
      "192.168.1.7",
      "2001:db8::7",
    ]);
    assert.deepEqual(
      filterEndpointAddresses(addresses, { filters: ["2001:db8::/32", "10.5.0.0/16", "!10.5.0.2/32"] }),
      ["2001:db8::7"],
    );
  });

  it("lists addresses, then the address the discovery service saw, then extra endpoints, each once", () => {
    assert.deepEqual(
      localEndpoints({
        addresses: ["10.5.0.2", "2001:db8::7"],
        port: 51820,
        publicIp: "10.5.0.2",
        extra: ["203.0.113.7:4000", "10.5.0.2:51820"],
      }),
      ["10.5.0.2:51820", "[2001:db8::7]:51820", "203.0.113.7:4000"],
    );
    assert.deepEqual(localEndpoints({ addresses: [], port: 7, publicIp: "198.51.100.1", extra: [] }), [
      "198.51.100.1:7",
    ]);
  });

  it("parses ip:port and [v6]:port, and refuses anything else", () => {
    assert.deepEqual(parseEndpoint("10.0.0.1:51820"), { ip: "10.0.0.1", port: 51820 });
    assert.deepEqual(parseEndpoint("[FD00::1]:1"), { ip: "fd00::1", port: 1 });
    for (const bad of ["10.0.0.1", "fd00::1:5", "10.0.0.1:0", "x:1", "[10.0.0.1]:99999"])
      assert.equal(parseEndpoint(bad), undefined, bad);
  });
});
