/**
 * IP addresses and prefixes, parsed without platform modules so that the config core stays pure.
 * Textual forms follow RFC 4291 §2.2 (IPv6, including `::` and a trailing dotted IPv4) and the
 * dotted-quad form of IPv4 with no leading zeros.
 */
export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface IpPrefix {
  readonly address: IpAddress;
  readonly prefixLength: number;
}

const octet = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const hextet = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => octet.test(p))) return undefined;
  return Uint8Array.from(parts, Number);
}

function parseHextets(text: string): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (!v4) return undefined;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (hextet.test(part)) {
      words.push(Number.parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return words;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = parseHextets(halves[0]!);
  const tail = halves.length === 2 ? parseHextets(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== "string") return undefined;
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes ? { family: 6, bytes } : undefined;
  }
  const bytes = parseIpv4(text);
  return bytes ? { family: 4, bytes } : undefined;
}

/** `address/length`; the length must fit the family (≤ 32 or ≤ 128). */
export function parsePrefix(text: string): IpPrefix | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!address || !/^(0|[1-9]\d{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > address.bytes.length * 8) return undefined;
  return { address, prefixLength };
}

/** The address with every bit past the prefix length cleared. */
export function networkOf(prefix: IpPrefix): IpAddress {
  const bytes = prefix.address.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix.prefixLength - 8 * i));
    return keep === 0 ? 0 : b & (0xff << (8 - keep));
  });
  return { family: prefix.address.family, bytes };
}

/** The address with every bit past the prefix length set (the IPv4 broadcast address). */
export function lastAddressOf(prefix: IpPrefix): IpAddress {
  const bytes = prefix.address.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix.prefixLength - 8 * i));
    return b | (0xff >> keep);
  });
  return { family: prefix.address.family, bytes };
}

export function hasHostBits(prefix: IpPrefix): boolean {
  return !sameAddress(networkOf(prefix), prefix.address);
}

export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

export function prefixContains(prefix: IpPrefix, ip: IpAddress): boolean {
  if (prefix.address.family !== ip.family) return false;
  return sameAddress(networkOf(prefix), networkOf({ address: ip, prefixLength: prefix.prefixLength }));
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join(".");
  const words = Array.from({ length: 8 }, (_, i) => (ip.bytes[2 * i]! << 8) | ip.bytes[2 * i + 1]!);
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.start < 0) return hex.join(":");
  const head = hex.slice(0, best.start).join(":");
  const tail = hex.slice(best.start + best.length).join(":");
  return `${head}::${tail}`;
}

export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp(prefix.address)}/${prefix.prefixLength}`;
}
