import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, createBackoff } from "./backoff.ts";

describe("backoff", () => {
  it("doubles up to the ceiling and resets", () => {
    const b = createBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
    b.reset();
    assert.equal(b.next(), 100);
  });

  it("keeps jitter within its fraction", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, { initialMs: 100, jitter: 0.2 });
      assert.ok(d >= 320 && d <= 480, `delay ${d} outside 400 ± 20%`);
    }
  });

  it("names the bad option and its value", () => {
    assert.throws(() => createBackoff({ initialMs: 0 }), /'initialMs' must be > 0, current value is 0/);
    assert.throws(
      () => createBackoff({ initialMs: 10, maxMs: 5 }),
      /'maxMs' must be >= initialMs \(10\), current value is 5/,
    );
    assert.throws(() => createBackoff({ jitter: 2 }), /'jitter' must be within 0..1, current value is 2/);
  });
});
