import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { isPlinthError } from "../../errors/plinth-error.ts";
import type { ClusterEvent } from "./cluster-table.ts";
import { createMemoryDiscoveryStore, type MemoryDiscoveryStore } from "./memory-store.ts";

const b = (...x: number[]) => new Uint8Array(x);

function describeEvent(e: ClusterEvent): string {
  switch (e.type) {
    case "snapshot":
      return `snapshot[${e.affiliates.map((a) => a.id).join(",")}]`;
    case "updated":
      return `updated ${e.affiliate.id} (${e.affiliate.endpoints.length} endpoints)`;
    case "deleted":
      return `deleted ${e.id}`;
  }
}

describe("memory discovery store", () => {
  let clock = 0;
  let store: MemoryDiscoveryStore | undefined;
  const open = (options: Parameters<typeof createMemoryDiscoveryStore>[0] = {}) => {
    store = createMemoryDiscoveryStore({ now: () => clock, ...options });
    return store;
  };
  afterEach(async () => {
    assert.equal(store?.stats().watchers ?? 0, 0, "every watch was closed");
    await store?.close();
    clock = 0;
  });

  it("watch: the snapshot, then changes in order; garbage collection reports expiry as updates and deletions", async () => {
    const s = open();
    await s.update("c", "a", { data: b(1), endpoints: [b(1)], ttlMs: 100 });
    const watch = s.watch("c")[Symbol.asyncIterator]();
    const seen: string[] = [];
    const next = async () => seen.push(describeEvent((await watch.next()).value as ClusterEvent));
    await next();
    await s.update("c", "a", { endpoints: [b(2)], ttlMs: 300 });
    await s.update("c", "b", { data: b(2), endpoints: [], ttlMs: 100 });
    await s.update("other", "x", { data: b(3), endpoints: [], ttlMs: 100 });
    await next();
    await next();
    clock = 150;
    assert.deepEqual(await s.collectGarbage(), { removedAffiliates: 2, removedEndpoints: 1 });
    await next();
    await next();
    clock = 400;
    assert.deepEqual(await s.collectGarbage(), { removedAffiliates: 1, removedEndpoints: 0 });
    await next();
    assert.deepEqual(seen, [
      "snapshot[a]",
      "updated a (2 endpoints)",
      "updated b (0 endpoints)",
      "updated a (1 endpoints)",
      "deleted b",
      "deleted a",
    ]);
    assert.deepEqual(s.stats(), { clusters: 0, affiliates: 0, endpoints: 0, watchers: 1 });
    await watch.return?.();
  });

  it("ends a watcher that falls too far behind with conflict, leaving the others", async () => {
    const s = open({ watchBuffer: 3 });
    const slow = s.watch("c")[Symbol.asyncIterator]();
    const fast = s.watch("c")[Symbol.asyncIterator]();
    await slow.next();
    await fast.next();
    for (let i = 0; i < 5; i++) {
      await s.update("c", "a", { data: b(i + 1), endpoints: [], ttlMs: 100 });
      await fast.next();
    }
    await assert.rejects(
      slow.next(),
      (err) => isPlinthError(err) && err.code === "conflict" && /fell 3 changes behind/.test(err.message),
    );
    assert.equal(s.stats().watchers, 1);
    await fast.return?.();
  });

  it("ends a watch when its signal aborts, and every watch when the store closes", async () => {
    const s = open();
    const controller = new AbortController();
    const aborted = s.watch("c", { signal: controller.signal })[Symbol.asyncIterator]();
    const closed = s.watch("c")[Symbol.asyncIterator]();
    await aborted.next();
    await closed.next();
    const pending = aborted.next();
    controller.abort();
    await assert.rejects(pending, (err) => isPlinthError(err) && err.code === "canceled");
    const pendingClose = closed.next();
    await s.close();
    await assert.rejects(pendingClose, (err) => isPlinthError(err) && err.code === "unavailable");
  });

  it("allows 1024 affiliates per cluster; the next is refused, members still update", async () => {
    const s = open();
    for (let i = 0; i < 1024; i++) await s.update("c", `n${i}`, { endpoints: [], ttlMs: 100 });
    await assert.rejects(
      s.update("c", "n1024", { endpoints: [], ttlMs: 100 }),
      (err) =>
        isPlinthError(err) &&
        err.code === "resource_exhausted" &&
        /'c' has 1024 affiliates/.test(err.message),
    );
    await s.update("c", "n0", { data: b(1), endpoints: [], ttlMs: 100 });
    await s.update("another", "n1024", { endpoints: [], ttlMs: 100 });
    assert.equal(s.stats().affiliates, 1025);
  });

  it("restores contents, leaving out what already expired", async () => {
    clock = 1000;
    const s = open({
      initial: {
        clusters: [
          {
            id: "c",
            affiliates: [
              { id: "alive", data: b(1), expiresAt: 5000, endpoints: [{ data: b(1), expiresAt: 500 }] },
              { id: "gone", data: b(2), expiresAt: 999, endpoints: [] },
            ],
          },
        ],
      },
    });
    assert.deepEqual(await s.list("c"), [{ id: "alive", data: b(1), expiresAt: 5000, endpoints: [] }]);
    assert.deepEqual(s.contents(), { clusters: [{ id: "c", affiliates: await s.list("c") }] });
  });
});
