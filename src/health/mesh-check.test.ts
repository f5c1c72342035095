import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceToWire } from "../api/resource-wire.ts";
import { newResource } from "../runtime/resource/resource.ts";
import { meshPeersCheck } from "./mesh-check.ts";

interface FakeMesh {
  enabled?: boolean;
  link?: boolean;
  peers?: Record<string, "up" | "down" | "unknown">;
}

/** A node whose ResourceService answers MeshStatus and MeshPeerStatus from memory. */
function node(address: string, mesh: FakeMesh) {
  const transport = createRouterTransport(({ service }) => {
    service(ResourceService, {
      list: (req) => {
        const ptr = (type: string, id: string) => ({ namespace: "mesh", type, id });
        const peers = Object.entries(mesh.peers ?? {});
        const resources =
          req.type === "MeshStatus" && mesh.enabled !== undefined
            ? [
                newResource(ptr("MeshStatus", "mesh"), {
                  enabled: mesh.enabled,
                  link: mesh.link ?? true,
                  address: "fd00::1",
                  peers: peers.length,
                  peersUp: peers.filter(([, s]) => s === "up").length,
                }),
              ]
            : req.type === "MeshPeerStatus"
              ? peers.map(([host, state]) =>
                  newResource(ptr("MeshPeerStatus", host), {
                    hostname: host,
                    endpoint: "10.0.0.9:51820",
                    state,
                  }),
                )
              : [];
        return { messages: [{ resources: resources.map(resourceToWire) }] };
      },
    });
  });
  return { address, resources: createClient(ResourceService, transport) };
}

const signal = new AbortController().signal;

describe("health: all mesh peers up", () => {
  it("passes when no node runs a mesh", async () => {
    const r = await meshPeersCheck.run([node("a", {}), node("b", { enabled: false })], signal);
    assert.deepEqual(r, { ok: true, detail: "the mesh is not enabled" });
  });

  it("passes when every meshed node sees the others up", async () => {
    const r = await meshPeersCheck.run(
      [node("a", { enabled: true, peers: { b: "up" } }), node("b", { enabled: true, peers: { a: "up" } })],
      signal,
    );
    assert.deepEqual(r, { ok: true, detail: "2 nodes, 2 peer links up" });
  });

  it("fails naming down peers, missing peers and links not ready", async () => {
    const r = await meshPeersCheck.run(
      [
        node("a", { enabled: true, peers: { b: "up", c: "down" } }),
        node("b", { enabled: true, peers: { a: "up" } }),
        node("c", { enabled: true, link: false }),
      ],
      signal,
    );
    assert.equal(r.ok, false);
    assert.equal(
      r.detail,
      "a: peer c is down at 10.0.0.9:51820; b: 1 mesh peers, expected at least 2; c: mesh link not ready",
    );
  });
});
