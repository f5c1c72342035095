import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type ErrorCode, hasCode } from "../../../errors/plinth-error.ts";
import { createRegistry } from "../../resource/registry.ts";
import type { AnyResource } from "../../resource/resource.ts";
import type { CoreState, WatchEvent } from "../core-state.ts";
import type { State } from "../state.ts";
import { wrapCore } from "../state.ts";
import { withValidation } from "../validating-state.ts";
import { OtherSpec, TestSpec } from "./test-resources.ts";
import { readWatch, type WatchReader } from "./watch-reader.ts";

export interface ConformanceOptions {
  /** Runs once before the suite (start a server, say). */
  readonly setup?: () => Promise<void>;
  readonly teardown?: () => Promise<void>;
  /** A fresh, empty state for one test. */
  readonly create: () => Promise<CoreState>;
  /** Changes kept for tailEvents/bookmarks; cases needing more history than this are skipped. */
  readonly historySize?: number;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(hasCode(err, code), `expected ${code}, got ${String((err as Error)?.message ?? err)}`);
    if (pattern) assert.match((err as Error).message, pattern);
    return true;
  });
}

const kinds = (events: readonly WatchEvent[]) =>
  events.map((e) => (e.type === "bootstrapped" ? e.type : `${e.type}:${e.resource.metadata.id}`));

/**
 * The behaviour every CoreState backend shares. Each backend's test file calls this once;
 * a backend that cannot pass a case must say why in its own test file.
 */
export function stateConformance(name: string, options: ConformanceOptions): void {
  describe(`state conformance: ${name}`, () => {
    const registry = createRegistry([TestSpec, OtherSpec]);
    let state: State;
    let readers: WatchReader[] = [];
    const watch = (events: AsyncIterable<WatchEvent>) => {
      const r = readWatch(events);
      readers.push(r);
      return r;
    };
    const make = (id: string, value = "v", labels: Record<string, string> = {}) =>
      TestSpec.make(id, { value, count: 0 }, { labels });

    if (options.setup) before(options.setup);
    if (options.teardown) after(options.teardown);
    beforeEach(async () => {
      state = wrapCore(withValidation(await options.create(), registry));
      readers = [];
    });
    afterEach(async () => {
      for (const r of readers) await r.close();
      await state.close();
    });

    it("create stores version 1 with the writer as owner and timestamps", async () => {
      const stored = await state.create(make("a"), { owner: "ctrl" });
      assert.equal(stored.metadata.version, 1);
      assert.equal(stored.metadata.owner, "ctrl");
      assert.equal(stored.metadata.phase, "running");
      assert.ok(!Number.isNaN(Date.parse(stored.metadata.created)));
      const got = await state.get(TestSpec.ptr("a"));
      assert.deepEqual(got, stored);
      assert.deepEqual(got.spec, { value: "v", count: 0 });
    });

    it("create fails when the resource exists", async () => {
      await state.create(make("a"));
      await rejectsWith(state.create(make("a", "other")), "already_exists", /test\/TestSpec\/a/);
      assert.equal((await state.get(TestSpec.ptr("a"))).spec.value, "v");
    });

    it("get of a missing resource is not_found", async () => {
      await rejectsWith(state.get(TestSpec.ptr("nope")), "not_found", /nope/);
      assert.equal(await state.find(TestSpec.ptr("nope")), undefined);
    });

    it("update bumps the version and fails on a stale version", async () => {
      const v1 = await state.create(make("a"));
      const v2 = await state.update({ ...v1, spec: { value: "w", count: 1 } });
      assert.equal(v2.metadata.version, 2);
      assert.equal(v2.metadata.created, v1.metadata.created);
      await rejectsWith(state.update({ ...v1, spec: { value: "x", count: 2 } }), "conflict", /stale/);
      assert.deepEqual((await state.get(TestSpec.ptr("a"))).spec, { value: "w", count: 1 });
    });

    it("update of a missing resource is not_found", async () => {
      await rejectsWith(
        state.update({ ...make("a"), metadata: { ...make("a").metadata, version: 1 } }),
        "not_found",
      );
    });

    it("update by another owner is owner_conflict", async () => {
      const r = await state.create(make("a"), { owner: "one" });
      await rejectsWith(state.update(r, { owner: "two" }), "owner_conflict", /owned by 'one'/);
      await rejectsWith(state.update(r), "owner_conflict");
      const ok = await state.update(r, { owner: "one" });
      assert.equal(ok.metadata.owner, "one");
    });

    it("rejects an invalid spec naming the field, and stores nothing", async () => {
      const bad = TestSpec.make("a", { value: 5 as unknown as string, count: 0 });
      await rejectsWith(state.create(bad), "invalid_argument", /spec\.value/);
      await rejectsWith(state.get(TestSpec.ptr("a")), "not_found");
      const good = await state.create(make("a"));
      const worse = { ...good, spec: { value: "v", count: 1.5 } };
      await rejectsWith(state.update(worse), "invalid_argument", /spec\.count/);
      assert.equal((await state.get(TestSpec.ptr("a"))).metadata.version, 1);
    });

    it("fills schema defaults and rejects unknown types and bad ids", async () => {
      const r = await state.create(TestSpec.make("d", { value: "x" } as never));
      assert.equal(r.spec.count, 0);
      const unknown = { ...make("u"), metadata: { ...make("u").metadata, type: "Nope" } };
      await rejectsWith(state.create(unknown), "invalid_argument", /unknown resource type/);
      await rejectsWith(state.create(make("has space")), "invalid_argument", /metadata\.id/);
    });

    it("returned resources cannot change the stored state", async () => {
      const r = await state.create(make("a"));
      try {
        (r.spec as { value: string }).value = "mutated";
      } catch {
        // frozen: fine
      }
      assert.equal((await state.get(TestSpec.ptr("a"))).spec.value, "v");
    });

    it("teardown, finalizers and destroy follow the protocol", async () => {
      const ptr = TestSpec.ptr("a");
      await state.create(make("a"), { owner: "owner" });
      await rejectsWith(state.destroy(ptr, { owner: "owner" }), "phase_conflict", /torn down first/);
      const withFin = await state.addFinalizer(ptr, ["dep"]);
      assert.equal(withFin.metadata.owner, "owner", "a finalizer edit keeps the owner");
      assert.deepEqual(withFin.metadata.finalizers, ["dep"]);
      await rejectsWith(state.teardown(ptr, { owner: "other" }), "owner_conflict");
      assert.equal(await state.teardown(ptr, { owner: "owner" }), false);
      assert.equal((await state.get(ptr)).metadata.phase, "tearingDown");
      await rejectsWith(state.addFinalizer(ptr, ["late"]), "phase_conflict");
      await rejectsWith(
        state.modify(
          ptr,
          (d) => {
            d.spec.value = "x";
          },
          { owner: "owner" },
        ),
        "phase_conflict",
      );
      await rejectsWith(
        state.modify(
          ptr,
          (d) => {
            d.metadata.phase = "running";
          },
          {
            owner: "owner",
            expectedPhase: "any",
          },
        ),
        "phase_conflict",
        /cannot run again/,
      );
      await rejectsWith(state.destroy(ptr, { owner: "owner" }), "conflict", /finalizers pending: dep/);
      await state.removeFinalizer(ptr, ["dep"]);
      await rejectsWith(state.destroy(ptr, { owner: "intruder" }), "owner_conflict");
      await state.destroy(ptr, { owner: "owner" });
      await rejectsWith(state.get(ptr), "not_found");
      await rejectsWith(state.destroy(ptr, { owner: "owner" }), "not_found");
    });

    it("list returns one kind sorted by id, filtered by label queries", async () => {
      await state.create(make("c", "v", { app: "web", tier: "front" }));
      await state.create(make("a", "v", { app: "db" }));
      await state.create(make("b", "v", { app: "web" }));
      await state.create(OtherSpec.make("x", { value: "o", count: 0 }));
      await state.create(TestSpec.make("y", { value: "n", count: 0 }, { namespace: "elsewhere" }));
      const ids = (rs: AnyResource[]) => rs.map((r) => r.metadata.id);
      assert.deepEqual(ids(await state.list(TestSpec.kind())), ["a", "b", "c"]);
      assert.deepEqual(ids(await state.list(TestSpec.kind("elsewhere"))), ["y"]);
      const q = (labelQuery: Parameters<typeof state.list>[1] extends infer O ? O : never) =>
        state.list(TestSpec.kind(), labelQuery).then(ids);
      assert.deepEqual(await q({ labelQuery: [{ key: "app", op: "equal", value: "web" }] }), ["b", "c"]);
      assert.deepEqual(await q({ labelQuery: [{ key: "tier", op: "exists" }] }), ["c"]);
      assert.deepEqual(await q({ labelQuery: [{ key: "tier", op: "exists", invert: true }] }), ["a", "b"]);
      assert.deepEqual(await q({ labelQuery: [{ key: "app", op: "in", values: ["db", "cache"] }] }), ["a"]);
      assert.deepEqual(await q({ labelQuery: [{ key: "app", op: "equal", value: "web", invert: true }] }), [
        "a",
      ]);
      assert.deepEqual(
        await q({
          labelQuery: [
            { key: "app", op: "equal", value: "web" },
            { key: "tier", op: "in", values: ["front"], invert: true },
          ],
        }),
        ["b"],
      );
    });

    it("watch of one resource sends its state, bootstrapped, then changes in order", async () => {
      const ptr = TestSpec.ptr("a");
      await state.create(make("a"));
      const w = watch(state.watch(ptr));
      const [first, boot] = await w.take(2);
      assert.equal(first?.type, "created");
      assert.equal(boot?.type, "bootstrapped");
      await state.modify(ptr, (d) => {
        d.spec.value = "2";
      });
      await state.teardownAndDestroy(ptr);
      const rest = await w.take(3);
      assert.deepEqual(
        rest.map((e) => e.type),
        ["updated", "updated", "destroyed"],
      );
      const u = rest[0]!;
      assert.ok(u.type === "updated");
      assert.equal(u.old.spec && (u.old.spec as { value: string }).value, "v");
      assert.equal((u.resource.spec as { value: string }).value, "2");
    });

    it("watch of a missing resource bootstraps empty and sees its creation", async () => {
      const w = watch(state.watch(TestSpec.ptr("later")));
      assert.equal((await w.next()).type, "bootstrapped");
      await state.create(make("other"));
      await state.create(make("later"));
      const e = await w.next();
      assert.equal(e.type, "created");
      assert.ok(e.type === "created" && e.resource.metadata.id === "later");
    });

    it("watchKind bootstraps the contents, then delivers live events", async () => {
      await state.create(make("b"));
      await state.create(make("a"));
      await state.create(OtherSpec.make("o", { value: "x", count: 0 }));
      const w = watch(state.watchKind(TestSpec.kind(), { bootstrapContents: true }));
      assert.deepEqual(kinds(await w.take(3)), ["created:a", "created:b", "bootstrapped"]);
      await state.create(OtherSpec.make("o2", { value: "x", count: 0 }));
      await state.create(make("c"));
      await state.modify(TestSpec.ptr("a"), (d) => {
        d.spec.count = 1;
      });
      assert.deepEqual(kinds(await w.take(2)), ["created:c", "updated:a"]);
    });

    it("watchKind without bootstrap sends only live events", async () => {
      await state.create(make("old"));
      const w = watch(state.watchKind(TestSpec.kind()));
      assert.equal(await w.quiet(50), true);
      await state.create(make("new"));
      assert.deepEqual(kinds([await w.next()]), ["created:new"]);
    });

    it("watchKind with a label query sees resources enter and leave the selection", async () => {
      await state.create(make("a", "v", { role: "cp" }));
      const w = watch(
        state.watchKind(TestSpec.kind(), {
          bootstrapContents: true,
          labelQuery: [{ key: "role", op: "equal", value: "cp" }],
        }),
      );
      assert.deepEqual(kinds(await w.take(2)), ["created:a", "bootstrapped"]);
      await state.create(make("b", "v", { role: "worker" }));
      await state.modify(TestSpec.ptr("b"), (d) => {
        d.metadata.labels.role = "cp";
      });
      await state.modify(TestSpec.ptr("a"), (d) => {
        d.metadata.labels.role = "worker";
      });
      await state.modify(TestSpec.ptr("b"), (d) => {
        d.spec.count = 5;
      });
      assert.deepEqual(kinds(await w.take(3)), ["created:b", "destroyed:a", "updated:b"]);
    });

    it("tailEvents replays the latest past events of the kind", async () => {
      await state.create(make("a"));
      for (let i = 1; i <= 4; i++)
        await state.modify(TestSpec.ptr("a"), (d) => {
          d.spec.count = i;
        });
      const w = watch(state.watchKind(TestSpec.kind(), { tailEvents: 3 }));
      const events = await w.take(3);
      assert.deepEqual(
        events.map((e) => (e.type === "updated" ? (e.resource.spec as { count: number }).count : -1)),
        [2, 3, 4],
      );
      await state.modify(TestSpec.ptr("a"), (d) => {
        d.spec.count = 5;
      });
      const live = await w.next();
      assert.ok(live.type === "updated" && (live.resource.spec as { count: number }).count === 5);
    });

    it("a watch resumes right after a bookmark", async () => {
      const w = watch(state.watchKind(TestSpec.kind()));
      await state.create(make("a"));
      await state.create(make("b"));
      await state.create(make("c"));
      const [first] = await w.take(3);
      assert.ok(first && first.type === "created");
      const resumed = watch(state.watchKind(TestSpec.kind(), { startFromBookmark: first.bookmark }));
      assert.deepEqual(kinds(await resumed.take(2)), ["created:b", "created:c"]);
    });

    it("bookmarks and versions increase strictly across a burst of updates", async () => {
      await state.create(make("a"));
      const w = watch(state.watchKind(TestSpec.kind()));
      const n = 100;
      for (let i = 1; i <= n; i++)
        await state.modify(TestSpec.ptr("a"), (d) => {
          d.spec.count = i;
        });
      const events = await w.take(n);
      let lastBookmark = -1n;
      events.forEach((e, i) => {
        assert.equal(e.type, "updated");
        if (e.type !== "updated") return;
        assert.equal(e.resource.metadata.version, i + 2);
        assert.equal((e.resource.spec as { count: number }).count, i + 1);
        const b = BigInt(e.bookmark);
        assert.ok(b > lastBookmark, "bookmarks increase");
        lastBookmark = b;
      });
    });

    it("an aborted signal or a break ends a watch", async () => {
      const ac = new AbortController();
      const events = state.watchKind(TestSpec.kind(), { signal: ac.signal, bootstrapContents: true });
      const seen: string[] = [];
      const done = (async () => {
        for await (const e of events) seen.push(e.type);
      })();
      await state.create(make("a"));
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await done;
      assert.deepEqual(seen, ["bootstrapped", "created"]);
      for await (const e of state.watch(TestSpec.ptr("a"))) {
        assert.equal(e.type, "created");
        break;
      }
    });

    it("concurrent modify calls lose no update", async () => {
      await state.create(make("counter"));
      const writers = 20;
      await Promise.all(
        Array.from({ length: writers }, () =>
          state.modify(
            TestSpec.ptr("counter"),
            (d) => {
              d.spec.count += 1;
            },
            { retries: 100 },
          ),
        ),
      );
      const r = await state.get(TestSpec.ptr("counter"));
      assert.equal(r.spec.count, writers);
      assert.equal(r.metadata.version, writers + 1);
    });

    it("modify skips writes that change nothing, upsert creates then modifies", async () => {
      const created = await state.upsert(
        TestSpec.ptr("u"),
        (d) => {
          d.spec.count = 1;
        },
        {
          initial: () => ({ value: "init", count: 0 }),
        },
      );
      assert.equal(created.metadata.version, 1);
      assert.equal(created.spec.count, 1);
      const same = await state.modify(TestSpec.ptr("u"), (d) => {
        d.spec.count = 1;
      });
      assert.equal(same.metadata.version, 1);
      const changed = await state.upsert(
        TestSpec.ptr("u"),
        (d) => {
          d.spec.count = 2;
        },
        {
          initial: () => ({ value: "init", count: 0 }),
        },
      );
      assert.equal(changed.metadata.version, 2);
    });

    it("waitFor resolves when the predicate holds", async () => {
      const ptr = TestSpec.ptr("w");
      const waiting = state.waitFor(ptr, (r) => (r?.spec.count ?? 0) >= 2, {
        signal: AbortSignal.timeout(5000),
      });
      await state.create(make("w"));
      await state.modify(ptr, (d) => {
        d.spec.count = 1;
      });
      await state.modify(ptr, (d) => {
        d.spec.count = 2;
      });
      const r = await waiting;
      assert.equal(r?.spec.count, 2);
      const gone = await state.waitFor(TestSpec.ptr("absent"), (r) => r === undefined);
      assert.equal(gone, undefined);
    });
  });
}
