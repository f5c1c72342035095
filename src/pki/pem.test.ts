import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from "./encoding.ts";
import { decodePem, decodePemBlocks, encodePem } from "./pem.ts";

describe("PEM and base64", () => {
  it("PEM encoding round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const pem = encodePem("CERTIFICATE", bytes);
        assert.deepEqual(decodePem(pem, "CERTIFICATE"), bytes);
        assert.ok(pem.split("\n").every((line) => line.length <= 64));
      }),
      { numRuns: 300 },
    );
  });

  it("base64 and base64url round-trip any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
        assert.deepEqual(fromBase64Url(toBase64Url(bytes)), bytes);
        assert.doesNotMatch(toBase64Url(bytes), /[+/=]/);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects malformed base64 instead of guessing", () => {
    assert.equal(fromBase64("abc"), undefined);
    assert.equal(fromBase64("ab!="), undefined);
    assert.equal(fromBase64Url("a+b"), undefined);
  });

  it("finds blocks by label and refuses a missing or repeated one", () => {
    const text = `${encodePem("CERTIFICATE", new Uint8Array([1]))}junk\n${encodePem("PRIVATE KEY", new Uint8Array([2]))}`;
    assert.deepEqual(
      decodePemBlocks(text).map((b) => b.label),
      ["CERTIFICATE", "PRIVATE KEY"],
    );
    assert.deepEqual(decodePem(text, "PRIVATE KEY"), new Uint8Array([2]));
    assert.throws(() => decodePem(text, "PUBLIC KEY"), /expected exactly one 'PUBLIC KEY' block, found 0/);
    assert.throws(
      () => decodePem(text + text, "CERTIFICATE"),
      /expected exactly one 'CERTIFICATE' block, found 2/,
    );
  });
});
