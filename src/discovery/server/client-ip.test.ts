import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIp } from "../../config/net/ip.ts";
import { clientIp } from "./client-ip.ts";
import { parseGrpcTimeout } from "./grpc-fast-path.ts";

describe("clientIp", () => {
  const headers = { "x-real-ip": "203.0.113.1", "x-forwarded-for": "198.51.100.2, 10.0.0.1" };
  const ip = (...args: Parameters<typeof clientIp>) => {
    const found = clientIp(...args);
    return found && `${formatIp(found)}/${found.bytes.length}`;
  };

  it("uses the TCP peer unless proxy headers are trusted", () => {
    assert.equal(ip(headers, "127.0.0.5", false), "127.0.0.5/4");
  });
  it("prefers X-Real-IP, then the first X-Forwarded-For, when trusted", () => {
    assert.equal(ip(headers, "127.0.0.5", true), "203.0.113.1/4");
    assert.equal(ip({ "x-forwarded-for": headers["x-forwarded-for"] }, "127.0.0.5", true), "198.51.100.2/4");
    assert.equal(
      ip({ "x-real-ip": "not an ip" }, "127.0.0.5", true),
      "127.0.0.5/4",
      "a bad header falls back",
    );
  });
  it("reports IPv4-mapped IPv6 peers as IPv4 and IPv6 as 16 bytes", () => {
    assert.equal(ip({}, "::ffff:127.0.0.9", false), "127.0.0.9/4");
    assert.equal(ip({}, "::1", false), "::1/16");
    assert.equal(ip({}, undefined, false), undefined);
  });
});

describe("parseGrpcTimeout", () => {
  it("reads every unit of the gRPC spec", () => {
    assert.deepEqual(
      ["1H", "2M", "3S", "250m", "5000u", "7000000n"].map(parseGrpcTimeout),
      [3_600_000, 120_000, 3000, 250, 5, 7],
    );
  });
  it("ignores malformed values", () => {
    assert.deepEqual(["", "5", "123456789S", "1s", undefined].map(parseGrpcTimeout), [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
