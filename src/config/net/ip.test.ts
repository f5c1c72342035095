import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIp, formatPrefix, hasHostBits, parseIp, parsePrefix, prefixContains } from "./ip.ts";

describe("IP addresses and prefixes", () => {
  it("parses the usual forms and refuses the rest", () => {
    for (const ok of [
      "0.0.0.0",
      "10.5.0.2",
      "255.255.255.255",
      "::",
      "::1",
      "fd00::2",
      "2001:db8::1:0:0:1",
      "::ffff:10.0.0.1",
      "1:2:3:4:5:6:7:8",
    ]) {
      assert.ok(parseIp(ok), ok);
    }
    for (const bad of [
      "",
      "10.5.0",
      "10.5.0.256",
      "010.5.0.1",
      "1.2.3.4.5",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "fd00::g",
      "1:2:3:4:5:6:7::8",
      " 10.0.0.1",
    ]) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it("checks that a prefix length fits the family", () => {
    assert.ok(parsePrefix("10.0.0.0/32"));
    assert.equal(parsePrefix("10.0.0.0/33"), undefined);
    assert.ok(parsePrefix("fd00::/128"));
    assert.equal(parsePrefix("fd00::/129"), undefined);
    assert.equal(parsePrefix("10.0.0.0/08"), undefined);
    assert.equal(parsePrefix("10.0.0.0"), undefined);
  });

  it("finds host bits and containment", () => {
    assert.equal(hasHostBits(parsePrefix("10.0.0.1/8")!), true);
    assert.equal(hasHostBits(parsePrefix("10.0.0.0/8")!), false);
    assert.ok(prefixContains(parsePrefix("10.5.0.0/24")!, parseIp("10.5.0.77")!));
    assert.ok(!prefixContains(parsePrefix("10.5.0.0/24")!, parseIp("10.5.1.1")!));
    assert.ok(!prefixContains(parsePrefix("::/0")!, parseIp("10.5.1.1")!));
  });

  it("formats canonically (RFC 5952)", () => {
    assert.equal(formatIp(parseIp("2001:0db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
    assert.equal(formatIp(parseIp("::ffff:10.0.0.1")!), "::ffff:a00:1");
    assert.equal(formatIp(parseIp("1:0:2:3:4:5:6:7")!), "1:0:2:3:4:5:6:7");
  });

  it("format and parse round-trip for any address and prefix", () => {
    const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => ({ family: 4 as const, bytes }));
    const v6 = fc
      .uint8Array({ minLength: 16, maxLength: 16 })
      .map((bytes) => ({ family: 6 as const, bytes }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), fc.nat(128), (ip, n) => {
        const text = formatIp(ip);
        assert.deepEqual(parseIp(text), ip);
        const prefix = { address: ip, prefixLength: n % (ip.bytes.length * 8 + 1) };
        assert.deepEqual(parsePrefix(formatPrefix(prefix)), prefix);
        assert.ok(prefixContains(prefix, ip));
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."0123456789abcdef:./ ") }), (text) => {
        parseIp(text);
        parsePrefix(text);
      }),
      { numRuns: 1000 },
    );
  });
});
