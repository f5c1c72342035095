import { isIPv4, isIPv6 } from "node:net";
import { formatIpv6 } from "./address.ts";

/** A parsed prefix. @internal */
export interface Cidr {
  readonly family: 4 | 6;
  /** Network address (host bits cleared), canonical text. */
  readonly address: string;
  readonly length: number;
}

/**
 * Parses "addr/len" (a bare address counts as a host prefix) and clears host bits, so the text
 * compares equal to what `wg` and `nft` print. TypeError naming `field` on bad input.
 * @internal
 */
export function parseCidr(text: unknown, field: string): Cidr {
  if (typeof text !== "string") throw new TypeError(`'${field}' must be a CIDR string, got ${typeof text}`);
  const [addr = "", len, ...rest] = text.trim().split("/");
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  const max = family === 4 ? 32 : 128;
  const length = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (family === 0 || rest.length > 0 || length < 0 || length > max) {
    throw new TypeError(
      `'${field}' must be a CIDR like 10.0.0.0/24 or fd00::/64, got ${JSON.stringify(text)}`,
    );
  }
  const bytes = family === 4 ? Buffer.from(addr.split(".").map(Number)) : ipv6Bytes(addr);
  for (let bit = length; bit < max; bit++) bytes[bit >> 3] = bytes[bit >> 3]! & ~(0x80 >> (bit & 7));
  return { family, address: family === 4 ? [...bytes].join(".") : formatIpv6(bytes), length };
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.length}`;
}

/** Whether `inner` lies within `outer` (same family). @internal */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  return parseCidr(`${inner.address}/${outer.length}`, "cidr").address === outer.address;
}

/** Canonical, deduplicated, with prefixes inside another one dropped (nft interval sets refuse overlaps). @internal */
export function disjointCidrs(list: readonly string[], field: string): Cidr[] {
  const parsed = list.map((c, i) => parseCidr(c, `${field}[${i}]`));
  parsed.sort((a, b) => a.length - b.length);
  const kept: Cidr[] = [];
  for (const c of parsed) if (!kept.some((k) => cidrContains(k, c))) kept.push(c);
  return kept.sort((a, b) => (formatCidr(a) < formatCidr(b) ? -1 : 1));
}

function ipv6Bytes(addr: string): Buffer {
  // The URL parser expands embedded IPv4 and validates; then split the canonical groups.
  const canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  const [head = "", tail = ""] = canonical.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = canonical.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => {
    bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return bytes;
}
