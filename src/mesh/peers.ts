import { isIPv4, isIPv6 } from "node:net";
import type { Host } from "../agent/host/host.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { formatCidr, parseCidr } from "./cidr.ts";
import { MESH_PERSISTENT_KEEPALIVE_S } from "./defaults.ts";
import { decodeMeshKey } from "./keys.ts";
import { requireInteger, requireLinkName, runChecked, runWg } from "./run-checked.ts";
import { parseWgDumpFull, readWgDump, type WgPeerDump } from "./wg-dump.ts";

export interface MeshPeerConfig {
  readonly publicKey: string;
  /** "ip:port", "[v6]:port" (or "hostname:port", resolved by wg). */
  readonly endpoint?: string;
  /** CIDRs; host bits are cleared as WireGuard does. */
  readonly allowedIps: readonly string[];
  /** Default 25; 0 turns it off. */
  readonly persistentKeepaliveS?: number;
}

export interface MeshPeerState {
  readonly publicKey: string;
  readonly endpoint?: string;
  /** Epoch ms, 0 = never. */
  readonly latestHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly allowedIps: readonly string[];
}

/** Peers of `wg show <if> dump` output (the interface line and pre-shared keys are dropped). */
export function parseWgDump(dump: string): MeshPeerState[] {
  return parseWgDumpFull(dump).peers.map(publicState);
}

export async function readMeshPeers(host: Host, name: string): Promise<MeshPeerState[]> {
  requireLinkName(name);
  return (await readWgDump(host, name)).peers.map(publicState);
}

// The endpoint last asked for per link and peer: a peer is moved only when that changes, never
// back from an endpoint WireGuard roamed to on its own.
const desiredEndpoints = new WeakMap<Host, Map<string, Map<string, string>>>();

/**
 * Makes the peer set of link `name` exactly `peers`: new peers and peers whose allowed IPs,
 * pre-shared key, keepalive or desired endpoint changed are written in one `wg addconf` (keys on
 * stdin), peers not listed are removed; unchanged peers are not touched.
 */
export async function syncMeshPeers(
  host: Host,
  name: string,
  peers: readonly MeshPeerConfig[],
  presharedKey?: string,
): Promise<void> {
  requireLinkName(name);
  if (presharedKey !== undefined) decodeMeshKey(presharedKey, "presharedKey");
  const wanted = peers.map((p, i) => normalizePeer(p, `peers[${i}]`));
  const seen = new Set<string>();
  for (const [i, p] of wanted.entries()) {
    if (seen.has(p.publicKey)) throw new TypeError(`'peers[${i}].publicKey' is listed twice: ${p.publicKey}`);
    seen.add(p.publicKey);
  }
  const current = new Map((await readWgDump(host, name)).peers.map((p) => [p.publicKey, p]));
  const asked = endpointsOf(host, name);

  const sections: string[] = [];
  const clearPsk: string[] = [];
  for (const p of wanted) {
    const cur = current.get(p.publicKey);
    const endpointChanged =
      p.endpoint !== undefined &&
      (cur?.endpoint === undefined || (asked.get(p.publicKey) !== p.endpoint && cur.endpoint !== p.endpoint));
    const changed =
      !cur ||
      endpointChanged ||
      cur.presharedKey !== presharedKey ||
      cur.persistentKeepaliveS !== p.persistentKeepaliveS ||
      !sameSet(cur.allowedIps, p.allowedIps);
    if (!changed) continue;
    if (cur?.presharedKey !== undefined && presharedKey === undefined) clearPsk.push(p.publicKey);
    sections.push(
      [
        "[Peer]",
        `PublicKey = ${p.publicKey}`,
        presharedKey === undefined ? "" : `PresharedKey = ${presharedKey}`,
        p.allowedIps.length > 0 ? `AllowedIPs = ${p.allowedIps.join(", ")}` : "",
        endpointChanged ? `Endpoint = ${p.endpoint}` : "",
        `PersistentKeepalive = ${p.persistentKeepaliveS}`,
      ]
        .filter((l) => l !== "")
        .join("\n"),
    );
  }
  const removeArgs: string[] = [];
  for (const key of current.keys()) {
    if (!seen.has(key)) {
      removeArgs.push("peer", key, "remove");
    }
  }
  if (sections.length > 0) {
    // Configuration text (with the pre-shared key) on stdin; `addconf` replaces a listed peer's allowed IPs.
    await runWg(host, ["addconf", name, "/dev/stdin"], `${sections.join("\n\n")}\n`);
  }
  // A peer written without AllowedIPs keeps its old ones: clear them explicitly.
  const emptyAllowed = wanted.filter(
    (p) => p.allowedIps.length === 0 && (current.get(p.publicKey)?.allowedIps.length ?? 0) > 0,
  );
  const setArgs = [
    ...emptyAllowed.flatMap((p) => ["peer", p.publicKey, "allowed-ips", ""]),
    ...clearPsk.flatMap((k) => ["peer", k, "preshared-key", "/dev/null"]),
    ...removeArgs,
  ];
  if (setArgs.length > 0) await runChecked(host, "wg", ["set", name, ...setArgs]);
  // Recorded only once written, so a failed write is retried by the next call.
  asked.clear();
  for (const p of wanted) if (p.endpoint !== undefined) asked.set(p.publicKey, p.endpoint);
}

/** Points one existing peer at `endpoint` (e.g. trying an endpoint candidate); not_found for an unknown peer. */
export async function setPeerEndpoint(
  host: Host,
  name: string,
  publicKey: string,
  endpoint: string,
): Promise<void> {
  requireLinkName(name);
  decodeMeshKey(publicKey, "publicKey");
  const ep = normalizeEndpoint(endpoint, "endpoint");
  const peers = (await readWgDump(host, name)).peers;
  if (!peers.some((p) => p.publicKey === publicKey)) {
    // `wg set … peer X endpoint` would create the peer: refuse instead.
    throw new PlinthError("not_found", `WireGuard link ${name} has no peer ${publicKey}`);
  }
  await runChecked(host, "wg", ["set", name, "peer", publicKey, "endpoint", ep]);
}

interface NormalizedPeer {
  readonly publicKey: string;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  readonly persistentKeepaliveS: number;
}

function normalizePeer(p: MeshPeerConfig, field: string): NormalizedPeer {
  decodeMeshKey(p?.publicKey, `${field}.publicKey`);
  if (!Array.isArray(p.allowedIps)) throw new TypeError(`'${field}.allowedIps' must be an array of CIDRs`);
  const keepalive = p.persistentKeepaliveS ?? MESH_PERSISTENT_KEEPALIVE_S;
  requireInteger(keepalive, `${field}.persistentKeepaliveS`, 0, 65535);
  const allowed = [
    ...new Set(p.allowedIps.map((c, i) => formatCidr(parseCidr(c, `${field}.allowedIps[${i}]`)))),
  ];
  return {
    publicKey: p.publicKey,
    endpoint: p.endpoint === undefined ? undefined : normalizeEndpoint(p.endpoint, `${field}.endpoint`),
    allowedIps: allowed,
    persistentKeepaliveS: keepalive,
  };
}

/** "ip:port" or "[v6]:port" in the form `wg show` prints; hostnames pass through for wg to resolve. */
function normalizeEndpoint(endpoint: unknown, field: string): string {
  const m = typeof endpoint === "string" ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(endpoint) : null;
  const port = Number(m?.[3]);
  const v6 = m?.[1];
  const other = m?.[2];
  const hostOk =
    v6 !== undefined ? isIPv6(v6) : other !== undefined && (isIPv4(other) || /^[A-Za-z0-9.-]+$/.test(other));
  if (!m || !hostOk || port < 1 || port > 65535) {
    throw new TypeError(`'${field}' must be "ip:port" or "[ipv6]:port", got ${JSON.stringify(endpoint)}`);
  }
  return v6 !== undefined ? `[${parseCidr(v6, field).address}]:${port}` : `${other}:${port}`;
}

function publicState(p: WgPeerDump): MeshPeerState {
  return {
    publicKey: p.publicKey,
    ...(p.endpoint === undefined ? {} : { endpoint: p.endpoint }),
    latestHandshakeMs: p.latestHandshakeMs,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    allowedIps: p.allowedIps,
  };
}

function endpointsOf(host: Host, name: string): Map<string, string> {
  const byLink = desiredEndpoints.get(host) ?? new Map<string, Map<string, string>>();
  desiredEndpoints.set(host, byLink);
  const byPeer = byLink.get(name) ?? new Map<string, string>();
  byLink.set(name, byPeer);
  return byPeer;
}

/** Forgets the endpoints asked for on a link (after it is removed). @internal */
export function forgetDesiredEndpoints(host: Host, name: string): void {
  desiredEndpoints.get(host)?.delete(name);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
