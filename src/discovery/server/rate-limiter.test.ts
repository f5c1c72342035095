import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { isPlinthError } from "../../errors/plinth-error.ts";
import { createRateLimiter } from "./rate-limiter.ts";

describe("rate limiter", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  /** Whether the promise settled after the pending timers ran. */
  async function settled(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    p.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    for (let i = 0; i < 5; i++) await Promise.resolve();
    return done;
  }

  it("lets a burst through at once, then spaces requests by the rate", async () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 3 });
    for (let i = 0; i < 3; i++) await limiter.take("ip");
    const fourth = limiter.take("ip");
    const fifth = limiter.take("ip");
    assert.equal(await settled(fourth), false);
    mock.timers.tick(100);
    assert.equal(await settled(fourth), true, "one token after 100 ms");
    assert.equal(await settled(fifth), false, "the next one is another 100 ms away");
    mock.timers.tick(100);
    assert.equal(await settled(fifth), true);
  });

  it("keeps one bucket per key", async () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1 });
    await limiter.take("a");
    assert.equal(await settled(limiter.take("b")), true);
    assert.equal(await settled(limiter.take("a")), false);
    mock.timers.tick(1000);
  });

  it("fails at once with resource_exhausted when the token would come after the deadline, keeping the token", async () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 1 });
    await limiter.take("ip");
    await assert.rejects(
      limiter.take("ip", { deadline: Date.now() + 50 }),
      (err) =>
        isPlinthError(err) &&
        err.code === "resource_exhausted" &&
        /100 ms away, past the request's deadline/.test(err.message),
    );
    const within = limiter.take("ip", { deadline: Date.now() + 100 });
    mock.timers.tick(100);
    assert.equal(await settled(within), true, "the refused request did not use up the next token");
  });

  it("gives the token back when a waiting request is canceled", async () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 1 });
    await limiter.take("ip");
    const controller = new AbortController();
    const waiting = limiter.take("ip", { signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, (err) => isPlinthError(err) && err.code === "canceled");
    const next = limiter.take("ip");
    mock.timers.tick(100);
    assert.equal(await settled(next), true);
  });

  it("forgets buckets that filled up again", async () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 2 });
    await limiter.take("quiet");
    await limiter.take("busy");
    await limiter.take("busy");
    mock.timers.tick(100);
    assert.equal(limiter.sweep(), 1, "only the busy client's bucket is still below full");
  });

  it("refuses nonsense options", () => {
    assert.throws(
      () => createRateLimiter({ perSecond: 0, burst: 1 }),
      /'perSecond' must be > 0, current value is 0/,
    );
    assert.throws(() => createRateLimiter({ perSecond: 1, burst: 0.5 }), /'burst' must be an integer >= 1/);
  });
});
