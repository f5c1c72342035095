import {
  MESH_LINK_NAME,
  MESH_PERSISTENT_KEEPALIVE_S,
  type MeshPeerConfig,
  type MeshPeerState,
  readMeshPeers,
  setPeerEndpoint,
  syncMeshPeers,
} from "../../mesh/index.ts";
import type { SpecOf } from "../../runtime/resource/definition.ts";
import type { Host } from "../host/host.ts";
import type { MeshPeerSpec, MeshPeerStatus } from "../resources/mesh.ts";
import type { ProbeDecision } from "./endpoint-prober.ts";

type PeerSpec = SpecOf<typeof MeshPeerSpec>;

/** A peer as the operator handles it: its spec and what its prober decided this round. */
export interface PeerRound {
  readonly spec: PeerSpec;
  readonly decision: ProbeDecision;
  /** What `wg show dump` said of it at the start of the round. */
  readonly observed: MeshPeerState | undefined;
}

const peerConfig = (p: PeerRound): MeshPeerConfig => ({
  publicKey: p.spec.publicKey,
  allowedIps: p.spec.allowedIps,
  ...(p.decision.endpoint ? { endpoint: p.decision.endpoint } : {}),
});

/**
 * Makes WireGuard's peers what the round decided. A peer whose prober asks for a probe is first
 * removed, so that it is added afresh and handshakes at once (an endpoint change alone would
 * wait out WireGuard's 5 s between handshake initiations), unless it handshaked since the round
 * began (a peer that just came up is left alone) or WireGuard does not have it yet.
 */
export async function applyPeerRound(
  host: Host,
  peers: readonly PeerRound[],
  presharedKey: string,
): Promise<void> {
  // A peer WireGuard did not have when the round began is added afresh anyway: nothing to restart.
  const probing = peers.filter((p) => p.decision.probe && p.observed !== undefined);
  if (probing.length > 0) {
    const now = new Map((await readMeshPeers(host, MESH_LINK_NAME)).map((p) => [p.publicKey, p]));
    const restart = new Set(
      probing
        .filter((p) => {
          const seen = now.get(p.spec.publicKey);
          return seen !== undefined && seen.latestHandshakeMs <= (p.observed?.latestHandshakeMs ?? 0);
        })
        .map((p) => p.spec.publicKey),
    );
    if (restart.size > 0) {
      const kept = peers.filter((p) => !restart.has(p.spec.publicKey)).map(peerConfig);
      await syncMeshPeers(host, MESH_LINK_NAME, kept, presharedKey);
    }
  }
  await syncMeshPeers(host, MESH_LINK_NAME, peers.map(peerConfig), presharedKey);
}

/**
 * This node moved (an address changed): set each peer's endpoint again, which drops the source
 * address WireGuard stuck to (it may be gone), then make it send keepalives at once, so the
 * peers roam to the new address now rather than at the next keepalive.
 */
export async function announceMove(host: Host, peers: readonly PeerRound[]): Promise<void> {
  if (peers.length === 0) return;
  for (const p of peers) {
    const at = p.observed?.endpoint;
    // Best effort: a peer removed meanwhile needs no announcement.
    if (at) await setPeerEndpoint(host, MESH_LINK_NAME, p.spec.publicKey, at).catch(() => {});
  }
  // Turning the persistent keepalive off and on sends a keepalive at once.
  const keepalive = (s: number) =>
    peers.flatMap((p) => ["peer", p.spec.publicKey, "persistent-keepalive", String(s)]);
  await host.run("wg", ["set", MESH_LINK_NAME, ...keepalive(0)]);
  await host.run("wg", ["set", MESH_LINK_NAME, ...keepalive(MESH_PERSISTENT_KEEPALIVE_S)]);
}

export function peerStatus(p: PeerRound): SpecOf<typeof MeshPeerStatus> {
  const { spec, decision, observed } = p;
  return {
    hostname: spec.hostname,
    publicKey: spec.publicKey,
    address: spec.address,
    endpoint: observed?.endpoint ?? decision.endpoint ?? "",
    state: decision.state,
    lastHandshake:
      observed && observed.latestHandshakeMs > 0 ? new Date(observed.latestHandshakeMs).toISOString() : "",
    rxBytes: observed?.rxBytes ?? 0,
    txBytes: observed?.txBytes ?? 0,
    probes: decision.probes,
  };
}
