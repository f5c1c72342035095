import { formatIp, parseIp, parsePrefix, prefixContains } from "../../config/net/ip.ts";

/** `ip:port`, with brackets around an IPv6 address. */
export function formatEndpoint(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The local addresses worth announcing as mesh endpoints: not in the mesh itself (the mesh
 * address is on the mesh link), not loopback or link-local, and passing the `Mesh` document's
 * filters: with positive filters an address must be in one of them; `!` filters exclude, and
 * exclusions win.
 */
export function filterEndpointAddresses(
  addresses: readonly string[],
  options: { readonly filters: readonly string[]; readonly meshPrefix?: string },
): string[] {
  const include = options.filters.filter((f) => !f.startsWith("!")).flatMap((f) => parsePrefix(f) ?? []);
  const exclude = options.filters
    .filter((f) => f.startsWith("!"))
    .flatMap((f) => parsePrefix(f.slice(1)) ?? []);
  const mesh = options.meshPrefix ? parsePrefix(options.meshPrefix) : undefined;
  const out: string[] = [];
  for (const text of addresses) {
    const ip = parseIp(text.split("/")[0]!);
    if (!ip || isLoopbackOrLinkLocal(ip.bytes, ip.family)) continue;
    if (mesh && prefixContains(mesh, ip)) continue;
    if (include.length > 0 && !include.some((p) => prefixContains(p, ip))) continue;
    if (exclude.some((p) => prefixContains(p, ip))) continue;
    const canonical = formatIp(ip);
    if (!out.includes(canonical)) out.push(canonical);
  }
  return out;
}

function isLoopbackOrLinkLocal(b: Uint8Array, family: 4 | 6): boolean {
  if (family === 4) return b[0] === 127 || (b[0] === 169 && b[1] === 254);
  const loopback = b.every((x, i) => x === (i === 15 ? 1 : 0));
  return loopback || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/**
 * Where this node's mesh can be reached, in the order peers should try them: its filtered
 * addresses, then the address the discovery service saw (the public side of a NAT), then the
 * configured extra endpoints. Each `ip:port`, once.
 */
export function localEndpoints(facts: {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly publicIp?: string;
  readonly extra: readonly string[];
}): string[] {
  const all = [
    ...facts.addresses.map((a) => formatEndpoint(a, facts.port)),
    ...(facts.publicIp && parseIp(facts.publicIp)
      ? [formatEndpoint(formatIp(parseIp(facts.publicIp)!), facts.port)]
      : []),
    ...facts.extra,
  ];
  return [...new Set(all)];
}

/** `ip:port` → the address and port; undefined when it is not one. */
export function parseEndpoint(text: string): { ip: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIp(m[1] ?? m[2]!);
  const port = Number(m[3]);
  if (!ip || port < 1 || port > 65535) return undefined;
  return { ip: formatIp(ip), port };
}
