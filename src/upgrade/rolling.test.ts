import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RollingNode, rollingUpgrade, upgradeOrder } from "./rolling.ts";

const cp = (address: string): RollingNode => ({ address, role: "controlplane" });
const worker = (address: string): RollingNode => ({ address, role: "worker" });

describe("rolling upgrades", () => {
  it("orders control planes first, otherwise as given", () => {
    const order = upgradeOrder([
      worker("w1"),
      cp("c2"),
      { address: "u", role: "unknown" },
      cp("c1"),
      worker("w2"),
    ]);
    assert.deepEqual(
      order.map((n) => n.address),
      ["c2", "c1", "w1", "w2", "u"],
    );
  });

  it("upgrades one node at a time, checking health before each node after the first", async () => {
    const log: string[] = [];
    let running = 0;
    const result = await rollingUpgrade({
      nodes: [worker("w1"), cp("c1"), cp("c2")],
      async upgrade(n) {
        running++;
        assert.equal(running, 1, "one node at a time");
        log.push(`upgrade ${n.address}`);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return { ok: true, detail: "upgraded" };
      },
      async healthy(before) {
        log.push(`health before ${before.address}`);
        return { ok: true, detail: "" };
      },
    });
    assert.equal(result.ok, true);
    assert.deepEqual(log, ["upgrade c1", "health before c2", "upgrade c2", "health before w1", "upgrade w1"]);
  });

  it("stops at the first node that fails", async () => {
    const done: string[] = [];
    const result = await rollingUpgrade({
      nodes: [cp("c1"), cp("c2"), worker("w1")],
      async upgrade(n) {
        done.push(n.address);
        return n.address === "c2"
          ? { ok: false, detail: "rolled back to 0.1.0: boom" }
          : { ok: true, detail: "ok" };
      },
      healthy: async () => ({ ok: true, detail: "" }),
    });
    assert.equal(result.ok, false);
    assert.deepEqual(done, ["c1", "c2"]);
    assert.equal(result.stoppedBecause, "c2: rolled back to 0.1.0: boom");
  });

  it("stops when the cluster is not healthy between nodes", async () => {
    const done: string[] = [];
    const result = await rollingUpgrade({
      nodes: [cp("c1"), cp("c2")],
      async upgrade(n) {
        done.push(n.address);
        return { ok: true, detail: "ok" };
      },
      healthy: async () => ({ ok: false, detail: "etcd is healthy on every control plane: c1: no leader" }),
    });
    assert.equal(result.ok, false);
    assert.deepEqual(done, ["c1"]);
    assert.match(result.stoppedBecause ?? "", /not healthy before c2: etcd .* no leader/);
  });
});
