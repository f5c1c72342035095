import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Etcd3 } from "etcd3";
import { hasCode, isPlinthError } from "../../../../errors/plinth-error.ts";
import { type EtcdServer, startEtcd } from "../../../../testing/etcd-server.ts";
import type { AnyResource } from "../../../resource/resource.ts";
import { stateConformance } from "../../conformance/conformance.ts";
import { OtherSpec, TestSpec } from "../../conformance/test-resources.ts";
import { readWatch, type WatchReader } from "../../conformance/watch-reader.ts";
import type { CoreState, WatchEvent } from "../../core-state.ts";
import { type State, wrapCore } from "../../state.ts";
import { createEtcdState, type EtcdStateOptions } from "./etcd-state.ts";

const newPrefix = () => `test-${randomUUID()}`;

let conformanceEtcd: EtcdServer;
stateConformance("etcd", {
  setup: async () => {
    conformanceEtcd = await startEtcd();
  },
  teardown: async () => {
    await conformanceEtcd.dispose();
  },
  create: async () => createEtcdState({ endpoints: [conformanceEtcd.endpoint], prefix: newPrefix() }),
});

const make = (id: string, count = 0) => TestSpec.make(id, { value: "v", count });
const bump = (state: State, id: string, options?: { owner?: string }) =>
  state.modify(
    TestSpec.ptr(id),
    (d) => {
      d.spec.count += 1;
    },
    options,
  );
const describeEvent = (e: WatchEvent) =>
  e.type === "bootstrapped" ? e.type : `${e.type}:${e.resource.metadata.id}@${e.resource.metadata.version}`;

/** Applies events to a map of id to resource, as a consumer keeping a cache would. */
function applyEvents(view: Map<string, AnyResource>, events: readonly WatchEvent[]): void {
  for (const e of events) {
    if (e.type === "created" || e.type === "updated") view.set(e.resource.metadata.id, e.resource);
    else if (e.type === "destroyed") view.delete(e.resource.metadata.id);
  }
}

async function assertViewIsList(view: Map<string, AnyResource>, state: CoreState): Promise<void> {
  const listed = await state.list(TestSpec.kind());
  assert.deepEqual(
    [...view.values()].sort((a, b) => (a.metadata.id < b.metadata.id ? -1 : 1)),
    listed,
    "the watcher's view equals list()",
  );
}

function assertIncreasingBookmarks(events: readonly WatchEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(Number(events[i]!.bookmark) > Number(events[i - 1]!.bookmark), "bookmarks increase");
  }
}

/** A TCP relay to etcd that a test can cut and restore, to cut one client off while etcd runs. */
async function startRelay(
  target: string,
): Promise<{ endpoint: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let relayPort = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("error", () => s.destroy());
        s.on("close", () => {
          sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(relayPort, "127.0.0.1", resolve));
    relayPort = (server!.address() as { port: number }).port;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  };
  await listen();
  return { endpoint: `http://127.0.0.1:${relayPort}`, cut, restore: listen, close: cut };
}

describe("etcd state", () => {
  let etcd: EtcdServer;
  let raw: Etcd3;
  const states: CoreState[] = [];
  const readers: WatchReader[] = [];
  const open = (options: Partial<EtcdStateOptions> & { prefix: string }) => {
    const state = wrapCore(createEtcdState({ endpoints: [etcd.endpoint], ...options }));
    states.push(state);
    return state;
  };
  const watch = (events: AsyncIterable<WatchEvent>) => {
    const reader = readWatch(events);
    readers.push(reader);
    return reader;
  };
  const revision = async () => Number((await raw.kv.range({ key: Buffer.from("-") })).header.revision);
  const watchStreams = async () => {
    const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
    return Number(/^etcd_debugging_mvcc_watch_stream_total (\d+)/m.exec(text)?.[1]);
  };

  before(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: etcd.endpoint });
  });
  after(async () => {
    raw.close();
    await etcd.dispose();
  });
  afterEach(async () => {
    for (const r of readers.splice(0)) await r.close();
    for (const s of states.splice(0)) await s.close();
  });

  for (const how of ["stop", "kill"] as const) {
    it(`a watch continues after etcd is ${how === "stop" ? "stopped" : "killed"} and restarted, missing and repeating nothing`, async () => {
      const prefix = newPrefix();
      const a = open({ prefix, requestTimeoutMs: 1000, maxReconnectDelayMs: 200 });
      await a.create(make("x"));
      await a.create(make("y"));
      const w = watch(a.watchKind(TestSpec.kind(), { bootstrapContents: true }));
      const view = new Map<string, AnyResource>();
      const initial = await w.take(3);
      applyEvents(view, initial);
      await bump(a, "x");
      applyEvents(view, [await w.next()]);

      await (how === "stop" ? etcd.stop() : etcd.kill());
      const started = Date.now();
      await assert.rejects(a.create(make("lost")), (err) => {
        assert.ok(hasCode(err, "unavailable"), String(err));
        assert.ok((err as Error).cause, "the etcd error is the cause");
        return true;
      });
      assert.ok(Date.now() - started < 3000, "a write fails within its deadline while etcd is down");
      await etcd.restart();

      const b = open({ prefix });
      await b.create(make("z"));
      await bump(b, "y");
      await b.teardownAndDestroy(TestSpec.ptr("x"));
      for (let i = 0; i < 5; i++) await bump(b, "z");
      const later = await w.take(9, 10_000);
      assert.deepEqual(later.map(describeEvent), [
        "created:z@1",
        "updated:y@2",
        "updated:x@3",
        "destroyed:x@3",
        "updated:z@2",
        "updated:z@3",
        "updated:z@4",
        "updated:z@5",
        "updated:z@6",
      ]);
      assertIncreasingBookmarks([initial[2]!, ...later]);
      assert.equal(await w.quiet(300), true, "no event is delivered twice");
      applyEvents(view, later);
      await assertViewIsList(view, b);
      // The writing client works again too.
      await a.create(make("after"));
      assert.equal(describeEvent(await w.next()), "created:after@1");
    });
  }

  it("after etcd compacted the history a watch missed, it resyncs by sending the differences", async () => {
    const prefix = newPrefix();
    const relay = await startRelay(etcd.endpoint);
    try {
      const a = wrapCore(
        createEtcdState({
          endpoints: [relay.endpoint],
          prefix,
          requestTimeoutMs: 1000,
          maxReconnectDelayMs: 200,
        }),
      );
      states.push(a);
      const b = open({ prefix });
      for (const id of ["same", "changed", "gone"]) await b.create(make(id));
      const w = watch(a.watchKind(TestSpec.kind(), { bootstrapContents: true }));
      const view = new Map<string, AnyResource>();
      applyEvents(view, await w.take(4));

      await relay.cut();
      for (let i = 0; i < 3; i++) await bump(b, "changed");
      await b.teardownAndDestroy(TestSpec.ptr("gone"));
      await b.create(make("fresh"));
      await b.create(make("brief"));
      await b.teardownAndDestroy(TestSpec.ptr("brief"));
      await raw.kv.compact({ revision: await revision(), physical: true });
      await relay.restore();

      const resync = await w.take(3, 10_000);
      // Sorted by id; `old` and a destroyed resource are as the watcher last saw them.
      assert.deepEqual(resync.map(describeEvent), [
        "updated:changed@4",
        "created:fresh@1",
        "destroyed:gone@1",
      ]);
      const [updated] = resync;
      assert.ok(updated?.type === "updated" && updated.old.metadata.version === 1);
      assert.equal(await w.quiet(300), true, "the final state is sent once");
      applyEvents(view, resync);
      await assertViewIsList(view, b);
      await bump(b, "same");
      assert.equal(describeEvent(await w.next()), "updated:same@2");
    } finally {
      await relay.close();
    }
  });

  it("two states on one prefix see each other's writes and refuse stale versions", async () => {
    const prefix = newPrefix();
    const a = open({ prefix });
    const b = open({ prefix });
    const w = watch(b.watchKind(TestSpec.kind(), { bootstrapContents: true }));
    assert.equal((await w.next()).type, "bootstrapped");
    const created = await a.create(make("shared"), { owner: "ctrl" });
    assert.equal(describeEvent(await w.next()), "created:shared@1");
    assert.deepEqual(await b.get(TestSpec.ptr("shared")), created);

    const staleInA = await a.get(TestSpec.ptr("shared"));
    await b.update({ ...staleInA, spec: { value: "from b", count: 1 } }, { owner: "ctrl" });
    await assert.rejects(
      a.update({ ...staleInA, spec: { value: "from a", count: 2 } }, { owner: "ctrl" }),
      (err) => {
        assert.ok(hasCode(err, "conflict"), String(err));
        assert.match((err as Error).message, /version 1 is stale, stored version is 2/);
        return true;
      },
    );
    assert.equal((await a.get(TestSpec.ptr("shared"))).spec.value, "from b");

    // Writers in both states racing on one resource: every increment lands exactly once.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).modify(
          TestSpec.ptr("shared"),
          (d) => {
            d.spec.count += 1;
          },
          { owner: "ctrl", retries: 100 },
        ),
      ),
    );
    const final = await a.get(TestSpec.ptr("shared"));
    assert.equal(final.spec.count, 21);
    assert.equal(final.metadata.version, 22);

    // And a state in another process.
    const fixture = fileURLToPath(new URL("./etcd-writer.fixture.ts", import.meta.url));
    await promisify(execFile)(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", fixture, etcd.endpoint, prefix, "child"],
      { timeout: 20_000 },
    );
    const all = await w.take(21 + 4);
    assert.deepEqual(all.slice(-4).map(describeEvent), [
      "created:child@1",
      "updated:child@2",
      "updated:child@3",
      "updated:child@4",
    ]);
    assert.deepEqual((await a.get(TestSpec.ptr("child"))).metadata.owner, "child");
  });

  it("a bookmark older than etcd's compaction is history_lost, naming the oldest usable bookmark", async () => {
    const s = open({ prefix: newPrefix() });
    const w = watch(s.watchKind(TestSpec.kind()));
    await s.create(make("a"));
    for (let i = 0; i < 5; i++) await bump(s, "a");
    const events = await w.take(6);
    const compactedAt = Number(events[3]!.bookmark);
    await raw.kv.compact({ revision: compactedAt, physical: true });

    const old = watch(s.watchKind(TestSpec.kind(), { startFromBookmark: events[0]!.bookmark }));
    await assert.rejects(old.next(), (err) => {
      assert.ok(hasCode(err, "history_lost"), String(err));
      assert.equal((err as { details: { bookmark: string } }).details.bookmark, String(compactedAt));
      return true;
    });
    const resumed = watch(s.watchKind(TestSpec.kind(), { startFromBookmark: String(compactedAt) }));
    assert.deepEqual((await resumed.take(2)).map(describeEvent), ["updated:a@5", "updated:a@6"]);

    const ahead = watch(
      s.watchKind(TestSpec.kind(), { startFromBookmark: String((await revision()) + 100) }),
    );
    await assert.rejects(ahead.next(), (err) => hasCode(err, "invalid_argument"));
    const garbage = watch(s.watchKind(TestSpec.kind(), { startFromBookmark: "nope" }));
    await assert.rejects(garbage.next(), (err) => hasCode(err, "invalid_argument"));
  });

  it("tailEvents stops replaying at the kind's latest change, also when that is a destroy", async () => {
    const s = open({ prefix: newPrefix() });
    await s.create(make("a"));
    await s.create(make("b"));
    await bump(s, "a");
    await s.teardownAndDestroy(TestSpec.ptr("b"));
    await s.create(OtherSpec.make("other", { value: "o", count: 0 }));
    const w = watch(s.watchKind(TestSpec.kind(), { tailEvents: 2 }));
    const tail = await w.take(2);
    assert.deepEqual(tail.map(describeEvent), ["updated:b@2", "destroyed:b@2"]);
    assert.ok(tail[0]?.type === "updated" && tail[0].old.metadata.phase === "running");
    assert.equal(await w.quiet(100), true);
    await s.create(make("c"));
    assert.equal(describeEvent(await w.next()), "created:c@1");

    const one = watch(s.watch(TestSpec.ptr("a"), { tailEvents: 5 }));
    assert.deepEqual((await one.take(2)).map(describeEvent), ["created:a@1", "updated:a@2"]);
    const none = watch(s.watchKind(OtherSpec.kind(), { tailEvents: 3 }));
    assert.deepEqual((await none.take(1)).map(describeEvent), ["created:other@1"]);
  });

  it("tailEvents looks back at most tailWindow revisions from the kind's latest change", async () => {
    const s = open({ prefix: newPrefix(), tailWindow: 5 });
    await s.create(make("a"));
    for (let i = 0; i < 10; i++) await s.create(OtherSpec.make(`o${i}`, { value: "o", count: 0 }));
    await bump(s, "a");
    await bump(s, "a");
    const w = watch(s.watchKind(TestSpec.kind(), { tailEvents: 3 }));
    assert.deepEqual((await w.take(2)).map(describeEvent), ["updated:a@2", "updated:a@3"]);
    assert.equal(await w.quiet(100), true, "the creation lies outside the window");
  });

  it("break, abort and close release etcd's watchers", async () => {
    const s = open({ prefix: newPrefix() });
    const until = async (n: number) => {
      for (let i = 0; i < 100 && (await watchStreams()) !== n; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(await watchStreams(), n, "open etcd watch streams");
    };
    await until(0);
    const ac = new AbortController();
    const aborted = watch(s.watchKind(TestSpec.kind(), { signal: ac.signal, bootstrapContents: true }));
    const broken = watch(s.watch(TestSpec.ptr("x")));
    const open3 = watch(s.watchKind(OtherSpec.kind(), { bootstrapContents: true }));
    for (const r of [aborted, broken, open3]) assert.equal((await r.next()).type, "bootstrapped");
    await until(3);
    ac.abort();
    await broken.close();
    await until(1);
    await s.close();
    await until(0);
    await assert.rejects(open3.next(), /watch ended/);
    await assert.rejects(s.get(TestSpec.ptr("x")), (err) => hasCode(err, "unavailable"));
  });

  it("a write to an etcd that never answers fails with unavailable at its deadline", async () => {
    // Accepts connections and says nothing, like a frozen server.
    const silent = createServer(() => {});
    const held = new Set<Socket>();
    silent.on("connection", (socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const s = wrapCore(createEtcdState({ endpoints: [`http://127.0.0.1:${port}`], requestTimeoutMs: 300 }));
      states.push(s);
      const started = Date.now();
      await assert.rejects(s.create(make("a")), (err) => {
        assert.ok(hasCode(err, "unavailable"), String(err));
        assert.match((err as Error).message, /did not answer in time/);
        return true;
      });
      assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("a watcher that stops reading fails with history_lost instead of growing without end", async () => {
    const s = open({ prefix: newPrefix(), watcherBacklog: 5 });
    const w = watch(s.watchKind(TestSpec.kind(), { bootstrapContents: true }));
    assert.equal((await w.next()).type, "bootstrapped");
    for (let i = 0; i < 10; i++) await s.create(make(`r${i}`));
    const seen: WatchEvent[] = [];
    await assert.rejects(
      (async () => {
        for (;;) seen.push(await w.next());
      })(),
      (err) => {
        assert.ok(hasCode(err, "history_lost"), String(err));
        assert.equal((err as { details: { bookmark: string } }).details.bookmark, seen.at(-1)?.bookmark);
        return true;
      },
    );
    assert.equal(seen.length, 5);
  });

  it("refuses bad options naming them", () => {
    assert.throws(() => createEtcdState({ endpoints: [] }), /'endpoints' must be a non-empty list/);
    assert.throws(
      () => createEtcdState({ endpoints: [etcd.endpoint], requestTimeoutMs: -5 }),
      (err) =>
        err instanceof RangeError && /'requestTimeoutMs' must be > 0, current value is -5/.test(err.message),
    );
    assert.throws(
      () => createEtcdState({ endpoints: [etcd.endpoint], prefix: "a/" }),
      /'prefix' must not end/,
    );
  });

  it("a value that is not a resource fails the read naming the key", async () => {
    const prefix = newPrefix();
    const s = open({ prefix });
    await raw.put(`${prefix}/test/TestSpec/bad`).value("{not json");
    await assert.rejects(s.get(TestSpec.ptr("bad")), (err) => {
      assert.ok(isPlinthError(err) && err.code === "internal", String(err));
      assert.match(err.message, /TestSpec\/bad' does not hold a resource/);
      return true;
    });
  });
});
