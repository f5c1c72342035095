import { formatIp, networkOf, parseIp, parsePrefix } from "../../config/net/ip.ts";
import type { SpecOf } from "../../runtime/resource/definition.ts";
import type { Affiliate } from "../resources/affiliate.ts";
import type { MeshPeerSpec } from "../resources/mesh.ts";

export type PeerSpecValue = SpecOf<typeof MeshPeerSpec>;
type AffiliateValue = SpecOf<typeof Affiliate>;

/** `10.0.0.5` → `10.0.0.5/32`; `10.0.0.0/24` stays; host bits cleared; undefined when neither. */
function canonicalPrefix(text: string): string | undefined {
  const prefix = text.includes("/")
    ? parsePrefix(text)
    : (() => {
        const ip = parseIp(text);
        return ip ? { address: ip, prefixLength: ip.bytes.length * 8 } : undefined;
      })();
  return prefix ? `${formatIp(networkOf(prefix))}/${prefix.prefixLength}` : undefined;
}

/** Not loopback, link-local, unspecified or multicast: an address worth steering to a peer. */
function isRoutable(text: string): boolean {
  const ip = parseIp(text.split("/")[0]!);
  if (!ip) return false;
  const b = ip.bytes;
  if (ip.family === 4) return b[0] !== 127 && b[0] !== 0 && !(b[0] === 169 && b[1] === 254) && b[0]! < 224;
  const zero = b.every((x, i) => i === 15 || x === 0);
  return !zero && b[0] !== 0xff && !(b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/**
 * The mesh peers of this node from the affiliates that announce a mesh key: allowed IPs are the
 * peer's mesh /128, its node addresses (not loopback, link-local or multicast) and its advertised
 * networks. WireGuard routes one prefix to
 * one peer only, so a prefix claimed by several peers goes to the one with the lowest node id,
 * deterministically on every node, and the others report it in `overlaps`. This node's own
 * addresses and prefixes are never given to a peer.
 */
export function buildPeerSpecs(
  affiliates: ReadonlyMap<string, AffiliateValue>,
  self: { readonly publicKey: string; readonly ownPrefixes: readonly string[] },
): Map<string, PeerSpecValue> {
  const own = new Set(self.ownPrefixes.flatMap((p) => canonicalPrefix(p) ?? []));
  const candidates = [...affiliates]
    .filter(([, a]) => a.mesh && a.mesh.publicKey !== "" && a.mesh.publicKey !== self.publicKey)
    .map(([id, a]) => {
      const claimed = [a.mesh!.address, ...a.addresses.filter(isRoutable), ...a.mesh!.additionalPrefixes]
        .flatMap((p) => canonicalPrefix(p) ?? [])
        .filter((p) => !own.has(p));
      return { id, a, claimed: [...new Set(claimed)] };
    })
    .sort((x, y) => (x.a.nodeId < y.a.nodeId ? -1 : x.a.nodeId > y.a.nodeId ? 1 : 0));
  // Two affiliates with one key (a node that was reset keeps no key, so this is a copy): the
  // first by node id keeps it, as WireGuard knows a key once.
  const keys = new Set<string>();
  const keptBy = new Map<string, string>();
  const out = new Map<string, PeerSpecValue>();
  for (const { id, a, claimed } of candidates) {
    if (keys.has(a.mesh!.publicKey)) continue;
    keys.add(a.mesh!.publicKey);
    const allowedIps: string[] = [];
    const overlaps: { prefix: string; keptBy: string }[] = [];
    for (const prefix of claimed) {
      const owner = keptBy.get(prefix);
      if (owner === undefined) {
        keptBy.set(prefix, a.nodeId);
        allowedIps.push(prefix);
      } else {
        overlaps.push({ prefix, keptBy: owner });
      }
    }
    out.set(id, {
      nodeId: a.nodeId,
      hostname: a.hostname,
      publicKey: a.mesh!.publicKey,
      address: a.mesh!.address,
      allowedIps,
      endpoints: [...a.endpoints],
      overlaps,
    });
  }
  return out;
}
