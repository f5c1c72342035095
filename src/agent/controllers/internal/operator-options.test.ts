import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Host } from "../../host/host.ts";
import { firstRefusedRetryMs, retryRefused } from "./operator-options.ts";

describe("retryRefused", () => {
  const options = { host: {} as Host, driftCheckMs: 5000 };

  it("retries refused items soon, then twice as long each time, up to the drift check", () => {
    const next = retryRefused(options);
    const delays = Array.from({ length: 7 }, () => next(1).requeueAfterMs);
    assert.deepEqual(delays, [
      firstRefusedRetryMs,
      firstRefusedRetryMs * 2,
      firstRefusedRetryMs * 4,
      firstRefusedRetryMs * 8,
      firstRefusedRetryMs * 16,
      5000,
      5000,
    ]);
  });

  it("goes back to the drift check once nothing is refused, and starts soon again after", () => {
    const next = retryRefused(options);
    next(2);
    next(2);
    assert.equal(next(0).requeueAfterMs, 5000);
    assert.equal(next(1).requeueAfterMs, firstRefusedRetryMs);
  });

  it("never waits longer than a drift check shorter than the first retry", () => {
    const next = retryRefused({ ...options, driftCheckMs: 100 });
    assert.equal(next(1).requeueAfterMs, 100);
    assert.equal(next(1).requeueAfterMs, 100);
  });
});
