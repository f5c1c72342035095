import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { isIPv6 } from "node:net";
import { describe, it } from "node:test";
import { meshAddress, meshPrefix } from "./address.ts";

describe("mesh addresses", () => {
  it("puts fd, 5 hash bytes of the cluster id and the purpose byte in the /64", () => {
    const h = createHash("sha256").update("cluster-1").digest("hex");
    // fd + h[0..5) + purpose 01 + pad 00
    const expected = `fd${h.slice(0, 2)}:${h.slice(2, 6)}:${h.slice(6, 10)}:100::/64`.replace(
      /:0+([0-9a-f])/g,
      ":$1",
    );
    assert.equal(meshPrefix("cluster-1"), expected);
    assert.equal(meshPrefix("cluster-1"), meshPrefix("cluster-1"));
    assert.notEqual(meshPrefix("cluster-2"), meshPrefix("cluster-1"));
  });

  it("takes the host part from 8 bytes of sha256(nodeId), inside the cluster's /64", () => {
    const a = meshAddress("cluster-1", "node-a");
    assert.ok(isIPv6(a));
    const n = createHash("sha256").update("node-a").digest("hex");
    const host = [0, 4, 8, 12].map((i) => Number.parseInt(n.slice(i, i + 4), 16).toString(16)).join(":");
    assert.ok(a.endsWith(`:${host}`), `${a} ends with ${host}`);
    assert.ok(a.startsWith(meshPrefix("cluster-1").replace("::/64", ":")), `${a} is inside the prefix`);
    assert.equal(meshAddress("cluster-1", "node-a"), a);
  });

  it("gives distinct addresses to many nodes", () => {
    const all = new Set(Array.from({ length: 1000 }, (_, i) => meshAddress("c", `node-${i}`)));
    assert.equal(all.size, 1000);
  });

  it("rejects empty ids naming the argument", () => {
    assert.throws(() => meshPrefix(""), { name: "TypeError", message: /'clusterId'/ });
    assert.throws(() => meshAddress("c", ""), { name: "TypeError", message: /'nodeId'/ });
  });
});
