import { formatIp, type IpAddress, parseIp } from "../../config/net/ip.ts";

/** The address headers of a request, lowercase names as Node gives them. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) as plain IPv4. */
function unmapped(ip: IpAddress): IpAddress {
  const b = ip.bytes;
  if (ip.family === 6 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { family: 4, bytes: b.slice(12) };
  }
  return ip;
}

/**
 * The client's address: from `X-Real-IP`, else the first `X-Forwarded-For` entry, when the
 * server sits behind a proxy it trusts to set them; else the TCP peer. Undefined when none parses.
 */
export function clientIp(
  headers: RequestHeaders,
  peer: string | undefined,
  trustProxyHeaders: boolean,
): IpAddress | undefined {
  const candidates: (string | undefined)[] = [];
  if (trustProxyHeaders) {
    candidates.push(first(headers["x-real-ip"])?.trim());
    candidates.push(first(headers["x-forwarded-for"])?.split(",")[0]?.trim());
  }
  candidates.push(peer);
  for (const text of candidates) {
    const ip = text ? parseIp(text) : undefined;
    if (ip) return unmapped(ip);
  }
  return undefined;
}

export function ipKey(ip: IpAddress | undefined): string {
  return ip ? formatIp(ip) : "";
}
