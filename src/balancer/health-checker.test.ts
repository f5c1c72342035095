import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { checkTiming, createHealthChecker, type Probe } from "./health-checker.ts";
import { parseUpstreamAddress } from "./upstream-address.ts";
import { createUpstreamPool } from "./upstream-pool.ts";

/** A probe whose answers the test decides: "up", "down", or "hang" (until aborted). */
function scriptedProbe(answers: Map<string, "up" | "down" | "hang">) {
  const calls: string[] = [];
  const probe: Probe = (address, signal) => {
    calls.push(address.host);
    const answer = answers.get(address.host) ?? "up";
    if (answer === "up") return Promise.resolve();
    if (answer === "down") return Promise.reject(new Error("connection refused"));
    return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  };
  return { probe, calls };
}

/** Lets settled probes' continuations run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function setup(t: TestContext, hosts: string[], answers = new Map<string, "up" | "down" | "hang">()) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const pool = createUpstreamPool({ rise: 2 });
  pool.set(hosts.map((h) => parseUpstreamAddress(`${h}:6443`)));
  const { probe, calls } = scriptedProbe(answers);
  let clock = 0;
  const checker = createHealthChecker(pool, { intervalMs: 1000, timeoutMs: 500, probe, now: () => clock });
  const health = () => pool.list().map((u) => `${u.address.host}=${u.health}`);
  return { pool, checker, calls, answers, health, advance: (ms: number) => (clock += ms) };
}

describe("health checker", () => {
  it("checks every upstream at once on start, then once per interval", async (t) => {
    const { checker, calls, health } = setup(t, ["a", "b"]);
    t.mock.timers.tick(0);
    await flush();
    assert.deepEqual(calls, ["a", "b"]);
    assert.deepEqual(health(), ["a=healthy", "b=healthy"]);
    t.mock.timers.tick(999);
    assert.equal(calls.length, 2);
    t.mock.timers.tick(1);
    assert.equal(calls.length, 4);
    await checker.stop();
  });

  it("marks an upstream down when a check is refused, and up again after two good rounds", async (t) => {
    const { checker, answers, health } = setup(t, ["a", "b"], new Map([["b", "down"]]));
    t.mock.timers.tick(0);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "b=unhealthy"]);
    answers.set("b", "up");
    t.mock.timers.tick(1000);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "b=unhealthy"]);
    t.mock.timers.tick(1000);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "b=healthy"]);
    await checker.stop();
  });

  it("counts a check that takes longer than the timeout as failed, without waiting for the next round", async (t) => {
    const { pool, checker, health } = setup(t, ["a", "slow"], new Map([["slow", "hang"]]));
    t.mock.timers.tick(0);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "slow=unknown"]);
    t.mock.timers.tick(499);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "slow=unknown"]);
    t.mock.timers.tick(1);
    await flush();
    assert.deepEqual(health(), ["a=healthy", "slow=unhealthy"]);
    assert.match(pool.list()[1]!.lastError!, /no connection within 500 ms/);
    await checker.stop();
  });

  it("records the time a check took as latency", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const pool = createUpstreamPool();
    pool.set([parseUpstreamAddress("a:1")]);
    let clock = 0;
    const probe: Probe = async () => {
      clock += 7;
    };
    const checker = createHealthChecker(pool, { probe, now: () => clock });
    t.mock.timers.tick(0);
    await flush();
    assert.equal(pool.list()[0]!.latencyMs, 7);
    await checker.stop();
  });

  it("checks a new upstream at once, and never runs two checks of one upstream together", async (t) => {
    const { pool, checker, calls, answers } = setup(t, ["a"], new Map([["a", "hang"]]));
    t.mock.timers.tick(0);
    pool.set([parseUpstreamAddress("a:6443"), parseUpstreamAddress("b:6443")]);
    checker.checkNow(pool.list()[1]!);
    checker.checkNow(pool.list()[0]!);
    assert.deepEqual(calls, ["a", "b"]);
    answers.set("a", "up");
    await checker.stop();
  });

  it("stops: aborts checks under way, clears its timers and reports nothing more", async (t) => {
    const { pool, checker, calls } = setup(t, ["a"], new Map([["a", "hang"]]));
    t.mock.timers.tick(0);
    await checker.stop();
    assert.equal(pool.list()[0]!.health, "unknown");
    t.mock.timers.tick(10_000);
    assert.deepEqual(calls, ["a"]);
  });

  it("refuses a timeout longer than the interval, naming both", () => {
    assert.throws(
      () => checkTiming({ intervalMs: 1000, timeoutMs: 1500 }),
      /'timeoutMs' must be > 0 and <= the interval \(1000\), current value is 1500/,
    );
    assert.throws(() => checkTiming({ intervalMs: 0 }), /'intervalMs' must be > 0, current value is 0/);
    assert.deepEqual(checkTiming({}), { intervalMs: 1000, timeoutMs: 500 });
  });
});
