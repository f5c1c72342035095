import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AsyncQueue } from "./async-queue.ts";

describe("AsyncQueue", () => {
  it("delivers in order, to a waiting or a later reader", async () => {
    const q = new AsyncQueue<number>();
    const first = q.next();
    q.push(1);
    q.push(2);
    q.end();
    assert.deepEqual(await first, { value: 1, done: false });
    const rest: number[] = [];
    for await (const n of q) rest.push(n);
    assert.deepEqual(rest, [2]);
  });

  it("fails past its limit with the overflow error, after the queued items", async () => {
    const q = new AsyncQueue<number>({ limit: 2, onOverflow: () => new Error("too slow") });
    q.push(1);
    q.push(2);
    q.push(3);
    assert.equal((await q.next()).value, 1);
    assert.equal((await q.next()).value, 2);
    await assert.rejects(q.next(), /too slow/);
  });

  it("ends on abort and reports closing once", async () => {
    const ac = new AbortController();
    let closed = 0;
    const q = new AsyncQueue<number>({ signal: ac.signal, onClose: () => closed++ });
    const pending = q.next();
    ac.abort();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.deepEqual(await q.next(), { value: undefined, done: true });
    assert.equal(closed, 1);
  });

  it("a break closes the queue", async () => {
    let closed = false;
    const q = new AsyncQueue<number>({ onClose: () => (closed = true) });
    q.push(1);
    q.push(2);
    for await (const _ of q) break;
    assert.equal(closed, true);
    q.push(3);
    assert.equal(q.size, 0);
  });
});
