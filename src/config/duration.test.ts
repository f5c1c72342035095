import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatDuration, parseDuration } from "./duration.ts";

describe("durations", () => {
  it("parses Go-style durations to milliseconds", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("24h"), 86_400_000);
    assert.equal(parseDuration("1.5s"), 1500);
    for (const bad of ["", "5", "s", "1d", "-1s", "1 s", "1s2"])
      assert.equal(parseDuration(bad), undefined, bad);
  });

  it("format and parse round-trip for any whole number of milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
      { numRuns: 500 },
    );
  });
});
