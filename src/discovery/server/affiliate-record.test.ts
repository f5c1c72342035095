import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isPlinthError } from "../../errors/plinth-error.ts";
import { mergeUpdate, type StoredAffiliate, withoutExpired } from "./affiliate-record.ts";

const b = (...x: number[]) => new Uint8Array(x);
const hexes = (a: StoredAffiliate) =>
  a.endpoints.map((e) => `${Buffer.from(e.data).toString("hex")}@${e.expiresAt}`);

describe("mergeUpdate", () => {
  it("creates an affiliate, with or without data, expiring after the TTL", () => {
    const { affiliate, changed } = mergeUpdate(undefined, "a", { endpoints: [b(1)], ttlMs: 1000 }, 5000);
    assert.equal(changed, true);
    assert.deepEqual(affiliate.data, new Uint8Array());
    assert.equal(affiliate.expiresAt, 6000);
    assert.deepEqual(hexes(affiliate), ["01@6000"]);
  });

  it("replaces data only when sent, and resets the affiliate's expiry with it", () => {
    const first = mergeUpdate(undefined, "a", { data: b(1), endpoints: [], ttlMs: 10_000 }, 0).affiliate;
    const kept = mergeUpdate(first, "a", { data: new Uint8Array(), endpoints: [], ttlMs: 1000 }, 100);
    assert.deepEqual(kept.affiliate.data, b(1), "empty data is no data");
    assert.equal(kept.affiliate.expiresAt, 10_000, "a shorter TTL without data does not shorten the expiry");
    assert.equal(kept.changed, false);
    const replaced = mergeUpdate(first, "a", { data: b(2), endpoints: [], ttlMs: 1000 }, 100);
    assert.deepEqual(replaced.affiliate.data, b(2));
    assert.equal(replaced.affiliate.expiresAt, 1100, "data sent sets the expiry to its own TTL");
    assert.equal(replaced.changed, true);
    assert.equal(
      mergeUpdate(first, "a", { data: b(1), endpoints: [], ttlMs: 1000 }, 100).changed,
      false,
      "same bytes",
    );
  });

  it("merges endpoints: known ones only get a later expiry, new ones are appended in order", () => {
    const first = mergeUpdate(undefined, "a", { endpoints: [b(1), b(2)], ttlMs: 1000 }, 0).affiliate;
    const { affiliate, changed } = mergeUpdate(
      first,
      "a",
      { endpoints: [b(2), b(3), b(3)], ttlMs: 500 },
      800,
    );
    assert.deepEqual(hexes(affiliate), ["01@1000", "02@1300", "03@1300"]);
    assert.equal(changed, true);
    assert.equal(affiliate.expiresAt, 1300);
    const refresh = mergeUpdate(affiliate, "a", { endpoints: [b(1)], ttlMs: 100 }, 850);
    assert.equal(refresh.changed, false, "an expiry extension is no change for watchers");
    assert.deepEqual(hexes(refresh.affiliate)[0], "01@1000", "never shortened");
  });

  it("refuses the 65th endpoint with resource_exhausted and changes nothing", () => {
    const full = mergeUpdate(
      undefined,
      "a",
      { endpoints: Array.from({ length: 64 }, (_, i) => b(i)), ttlMs: 1 },
      0,
    );
    const before = structuredClone(full.affiliate);
    assert.throws(
      () => mergeUpdate(full.affiliate, "a", { endpoints: [b(1), b(200)], ttlMs: 1 }, 0),
      (err) =>
        isPlinthError(err) && err.code === "resource_exhausted" && /has 64 endpoints/.test(err.message),
    );
    assert.deepEqual(full.affiliate, before);
  });
});

describe("withoutExpired", () => {
  const affiliate: StoredAffiliate = {
    id: "a",
    data: b(1),
    expiresAt: 2000,
    endpoints: [
      { data: b(1), expiresAt: 1000 },
      { data: b(2), expiresAt: 2000 },
    ],
  };
  it("keeps everything (the same object) before any expiry", () => {
    assert.equal(withoutExpired(affiliate, 1000), affiliate);
  });
  it("drops expired endpoints alone", () => {
    assert.deepEqual(withoutExpired(affiliate, 1001)?.endpoints, [{ data: b(2), expiresAt: 2000 }]);
  });
  it("drops the whole affiliate once it expired", () => {
    assert.equal(withoutExpired(affiliate, 2001), undefined);
  });
});
