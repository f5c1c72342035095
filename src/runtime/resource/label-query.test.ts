import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesLabels, parseLabelQuery } from "./label-query.ts";

describe("label queries", () => {
  const labels = { app: "web", tier: "front" };

  it("parses every term form", () => {
    assert.deepEqual(parseLabelQuery("app=web, tier!=back, zone, !gone, app in (web|db), tier notin (x)"), [
      { key: "app", op: "equal", value: "web", invert: false },
      { key: "tier", op: "equal", value: "back", invert: true },
      { key: "zone", op: "exists", invert: false },
      { key: "gone", op: "exists", invert: true },
      { key: "app", op: "in", values: ["web", "db"], invert: false },
      { key: "tier", op: "in", values: ["x"], invert: true },
    ]);
  });

  it("matches only when every term holds", () => {
    assert.equal(matchesLabels(labels, parseLabelQuery("app=web,tier")), true);
    assert.equal(matchesLabels(labels, parseLabelQuery("app=web,!tier")), false);
    assert.equal(matchesLabels(labels, parseLabelQuery("app notin (db)")), true);
    assert.equal(matchesLabels(labels, parseLabelQuery("missing!=x")), true);
    assert.equal(matchesLabels(labels, undefined), true);
  });

  it("names the term it cannot parse", () => {
    assert.throws(() => parseLabelQuery("app=web,(oops"), /term '\(oops'/);
  });
});
