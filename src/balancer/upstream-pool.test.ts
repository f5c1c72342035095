import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseUpstreamAddress } from "./upstream-address.ts";
import { createUpstreamPool, type PoolOptions, type Upstream, type UpstreamPool } from "./upstream-pool.ts";

const addresses = (...hosts: string[]) => hosts.map((h) => parseUpstreamAddress(`${h}:6443`));
const hostsOf = (list: readonly Upstream[]) => list.map((u) => u.address.host);

function poolWith(latencies: Record<string, number | "down" | "unknown">, options: PoolOptions = {}) {
  const pool = createUpstreamPool(options);
  pool.set(addresses(...Object.keys(latencies)));
  for (const u of pool.list()) {
    const l = latencies[u.address.host]!;
    if (l === "down") pool.failed(u, "check", "refused");
    else if (l !== "unknown") pool.succeeded(u, l);
  }
  return pool;
}

function firstChoices(pool: UpstreamPool, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const host = pool.candidates()[0]!.address.host;
    counts[host] = (counts[host] ?? 0) + 1;
  }
  return counts;
}

describe("upstream pool", () => {
  it("spreads new connections evenly among upstreams within the latency tolerance", () => {
    const pool = poolWith({ a: 0.2, b: 0.3, c: 0.25 });
    assert.deepEqual(firstChoices(pool, 300), { a: 100, b: 100, c: 100 });
  });

  it("prefers the fastest upstreams and keeps slower ones as fallbacks in latency order", () => {
    const pool = poolWith({ slow: 40, a: 0.2, medium: 12, b: 0.3 });
    const order = pool.candidates();
    assert.deepEqual(new Set(hostsOf(order.slice(0, 2))), new Set(["a", "b"]));
    assert.deepEqual(hostsOf(order.slice(2)), ["medium", "slow"]);
    assert.deepEqual(firstChoices(pool, 100), { a: 50, b: 50 });
  });

  it("widens the tolerance with the relative share for slow networks", () => {
    const pool = poolWith({ a: 20, b: 29, c: 31 }, { tolerance: { relative: 0.5, absoluteMs: 2 } });
    assert.deepEqual(firstChoices(pool, 100), { a: 50, b: 50 });
  });

  it("among upstreams within tolerance, picks the one with the fewest open connections", () => {
    const pool = poolWith({ a: 0.2, b: 0.2 });
    const [a] = pool.list();
    pool.opened(a!);
    assert.deepEqual(firstChoices(pool, 10), { b: 10 });
    pool.closed(a!, 0, 0);
    assert.deepEqual(firstChoices(pool, 10), { a: 5, b: 5 });
  });

  it("tries unchecked upstreams after healthy ones and unhealthy ones last, in the given order", () => {
    const pool = poolWith({ d1: "down", u: "unknown", h: 1, d2: "down" });
    assert.deepEqual(hostsOf(pool.candidates()), ["h", "u", "d1", "d2"]);
  });

  it("with nothing healthy still offers every upstream, unchecked ones first", () => {
    const pool = poolWith({ d1: "down", d2: "down", u: "unknown" });
    assert.deepEqual(hostsOf(pool.candidates()), ["u", "d1", "d2"]);
  });

  it("takes an upstream out on one failed dial and brings it back after `rise` successes", () => {
    const pool = poolWith({ a: 1, b: 1 }, { rise: 2 });
    const [a] = pool.list();
    pool.failed(a!, "dial", "connection refused");
    assert.equal(a!.health, "unhealthy");
    assert.equal(a!.dialErrors, 1);
    assert.equal(a!.lastError, "connection refused");
    assert.deepEqual(hostsOf(pool.candidates()), ["b", "a"]);
    pool.succeeded(a!, 1);
    assert.equal(a!.health, "unhealthy");
    pool.succeeded(a!, 1);
    assert.equal(a!.health, "healthy");
  });

  it("needs `fall` failed checks in a row, and a success in between starts the count again", () => {
    const pool = poolWith({ a: 1 }, { fall: 2 });
    const [a] = pool.list();
    pool.failed(a!, "check", "timeout");
    pool.succeeded(a!, 1);
    pool.failed(a!, "check", "timeout");
    assert.equal(a!.health, "healthy");
    pool.failed(a!, "check", "timeout");
    assert.equal(a!.health, "unhealthy");
    assert.equal(a!.checkFailures, 3);
  });

  it("takes latency as the lowest of the recent samples, so that one delayed sample does not count", () => {
    const pool = poolWith({ a: 0.4, b: 0.5 }, { latencyWindow: 3 });
    const [a] = pool.list();
    pool.succeeded(a!, 30); // e.g. this process's event loop was busy when the connect finished
    assert.equal(a!.latencyMs, 0.4);
    assert.deepEqual(firstChoices(pool, 10), { a: 5, b: 5 });
    // A path that really became slower shows in every sample and takes over the window.
    pool.succeeded(a!, 30);
    pool.succeeded(a!, 30);
    assert.equal(a!.latencyMs, 30);
    assert.deepEqual(firstChoices(pool, 10), { b: 10 });
  });

  it("keeps the health and counters of upstreams that stay when the set changes", () => {
    const changes: string[] = [];
    const pool = createUpstreamPool({ onChange: () => changes.push("change") });
    pool.set(addresses("a", "b"));
    const [a, b] = pool.list();
    pool.failed(a!, "dial", "refused");
    pool.opened(b!);
    changes.length = 0;
    const { added, removed } = pool.set(addresses("b", "a", "c"));
    assert.deepEqual(hostsOf(added), ["c"]);
    assert.deepEqual(removed, []);
    assert.equal(pool.list()[1], a);
    assert.equal(a!.health, "unhealthy");
    assert.equal(b!.activeConnections, 1);
    assert.deepEqual(changes, ["change"]);

    const second = pool.set(addresses("c"));
    assert.deepEqual(hostsOf(second.removed), ["b", "a"]);
    assert.equal(b!.inPool, false);
    pool.closed(b!, 10, 20); // a connection outliving its upstream's membership still reports
    assert.equal(b!.closedBytesFromUpstream, 20);
    assert.deepEqual(hostsOf(pool.list()), ["c"]);
  });

  it("reports health changes but not latency updates", () => {
    let changes = 0;
    const pool = createUpstreamPool({ onChange: () => changes++ });
    pool.set(addresses("a"));
    const [a] = pool.list();
    changes = 0;
    pool.succeeded(a!, 1);
    pool.succeeded(a!, 2);
    assert.equal(changes, 1);
    pool.failed(a!, "check", "timeout");
    assert.equal(changes, 2);
  });

  it("refuses settings that make no sense, naming the field and value", () => {
    assert.throws(
      () => createUpstreamPool({ rise: 0 }),
      /'rise' must be an integer >= 1, current value is 0/,
    );
    assert.throws(() => createUpstreamPool({ latencyWindow: 0 }), /'latencyWindow' must be an integer >= 1/);
    assert.throws(
      () => createUpstreamPool({ tolerance: { absoluteMs: -1 } }),
      /'tolerance.absoluteMs' must be >= 0, current value is -1/,
    );
  });
});

describe("upstream addresses", () => {
  it("parses host:port and [v6]:port and refuses the rest with the value in the message", () => {
    assert.deepEqual(parseUpstreamAddress("10.5.0.2:6443"), {
      host: "10.5.0.2",
      port: 6443,
      key: "10.5.0.2:6443",
    });
    assert.deepEqual(parseUpstreamAddress("[fd00::2]:6443"), {
      host: "fd00::2",
      port: 6443,
      key: "[fd00::2]:6443",
    });
    assert.equal(parseUpstreamAddress("cp-1.example.com:6443").host, "cp-1.example.com");
    for (const bad of [
      "10.5.0.2",
      "10.5.0.2:0",
      "10.5.0.2:70000",
      "fd00::2:6443",
      "[10.0.0.1]:1",
      "1.2.3.999:1",
      ":6443",
    ]) {
      assert.throws(() => parseUpstreamAddress(bad), {
        name: "TypeError",
        message: new RegExp(`current value is '${bad.replace(/[[\]]/g, "\\$&")}'`),
      });
    }
  });
});
