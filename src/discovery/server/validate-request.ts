import type { Duration } from "@bufbuild/protobuf/wkt";
import { formatDuration } from "../../config/duration.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import { discoveryLimits } from "./limits.ts";

// Request checks, in the order the public service applies them, each failing with
// invalid_argument and a message naming the field, the rule and the value found.

function checkId(field: string, value: string, maxBytes: number): void {
  if (value.length === 0) throw new PlinthError("invalid_argument", `${field} must not be empty`);
  // A UTF-16 unit is at most 3 bytes of UTF-8: most ids need no counting.
  const bytes = value.length * 3 <= maxBytes ? value.length : Buffer.byteLength(value, "utf8");
  if (bytes > maxBytes) {
    throw new PlinthError("invalid_argument", `${field} is too long: ${bytes} bytes, at most ${maxBytes}`);
  }
}

export function checkClusterId(id: string): void {
  checkId("cluster_id", id, discoveryLimits.clusterIdMaxBytes);
}

export function checkAffiliateId(id: string): void {
  checkId("affiliate_id", id, discoveryLimits.affiliateIdMaxBytes);
}

export function checkAffiliateData(data: Uint8Array | undefined): void {
  if (data !== undefined && data.length > discoveryLimits.affiliateDataMaxBytes) {
    throw new PlinthError(
      "invalid_argument",
      `affiliate_data is too big: ${data.length} bytes, at most ${discoveryLimits.affiliateDataMaxBytes}`,
    );
  }
}

export function checkEndpoints(endpoints: readonly Uint8Array[]): void {
  endpoints.forEach((endpoint, i) => {
    if (endpoint.length > discoveryLimits.endpointMaxBytes) {
      throw new PlinthError(
        "invalid_argument",
        `affiliate_endpoints[${i}] is too big: ${endpoint.length} bytes, at most ${discoveryLimits.endpointMaxBytes}`,
      );
    }
  });
}

/** The TTL in milliseconds; absent is 0 (expired at the next collection), as the public service has it. */
export function checkTtl(ttl: Duration | undefined): number {
  if (!ttl) return 0;
  const ms = Number(ttl.seconds) * 1000 + ttl.nanos / 1e6;
  if (ms < 0 || ttl.nanos < 0) {
    throw new PlinthError("invalid_argument", `ttl must not be negative, current value is ${ms} ms`);
  }
  if (ms > discoveryLimits.ttlMaxMs) {
    throw new PlinthError(
      "invalid_argument",
      `ttl is too long: ${Math.round(ms / 1000)}s, at most ${formatDuration(discoveryLimits.ttlMaxMs)}`,
    );
  }
  return ms;
}
