import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasCode } from "../../../../errors/plinth-error.ts";
import { stateConformance } from "../../conformance/conformance.ts";
import { TestSpec } from "../../conformance/test-resources.ts";
import { readWatch } from "../../conformance/watch-reader.ts";
import { createStoreEngine } from "../../internal/store-engine.ts";
import { createMemoryState } from "./memory-state.ts";

stateConformance("memory", { create: async () => createMemoryState() });

describe("memory state", () => {
  it("a bookmark older than the kept history is history_lost with the oldest bookmark", async () => {
    const state = createMemoryState({ historySize: 4 });
    await state.create(TestSpec.make("a", { value: "v", count: 0 }));
    for (let i = 0; i < 10; i++) {
      const r = await state.get(TestSpec.ptr("a"));
      await state.update({ ...r, spec: { value: "v", count: i } });
    }
    assert.throws(
      () => state.watchKind(TestSpec.kind(), { startFromBookmark: "1" }),
      (err) =>
        hasCode(err, "history_lost") && (err as { details: { bookmark: string } }).details.bookmark === "7",
    );
    await state.close();
  });

  it("a watcher that stops reading fails with history_lost instead of growing without end", async () => {
    const state = createMemoryState({ watcherBacklog: 5 });
    const w = readWatch(state.watchKind(TestSpec.kind()));
    for (let i = 0; i < 10; i++) await state.create(TestSpec.make(`r${i}`, { value: "v", count: 0 }));
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for (;;) seen.push((await w.next()).type);
      })(),
      (err) => hasCode(err, "history_lost"),
    );
    assert.equal(seen.length, 5);
    await state.close();
  });

  it("closes every watch it handed out", async () => {
    const engine = createStoreEngine();
    const a = readWatch(engine.watchKind(TestSpec.kind()));
    const b = readWatch(engine.watch(TestSpec.ptr("x")));
    await b.next();
    assert.equal(engine.hub.watcherCount, 2);
    await a.close();
    await b.close();
    assert.equal(engine.hub.watcherCount, 0);
    await engine.close();
  });

  it("a failed journal commit fails the write, the state and its open watches", async () => {
    const engine = createStoreEngine({
      journal: {
        commit() {
          throw new Error("disk full");
        },
        close() {},
      },
    });
    const w = readWatch(engine.watchKind(TestSpec.kind()));
    await assert.rejects(engine.create(TestSpec.make("a", { value: "v", count: 0 })), (e) =>
      hasCode(e, "unavailable"),
    );
    await assert.rejects(
      w.next(),
      (e) => hasCode(e, "unavailable") && /failed to persist/.test((e as Error).message),
    );
    await assert.rejects(engine.get(TestSpec.ptr("a")), (e) => hasCode(e, "unavailable"));
    await engine.close();
  });
});
