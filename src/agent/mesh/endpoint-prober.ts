/**
 * Chooses the endpoint of one mesh peer. KubeSpan tries one candidate per 30 s tick; this tries
 * them in quick succession: set a candidate (fresh, so that WireGuard sends a handshake at once
 * instead of waiting out its 5 s between initiations), give it a short window for a handshake,
 * then the next one. What works is kept; when WireGuard sees the peer somewhere else (it roams
 * to wherever authenticated packets come from), that place is kept instead. A peer is down when
 * nothing came from it for three keepalive intervals plus a grace, or its session is older than
 * WireGuard keeps keys; then the search starts over. Pure: the caller passes the clock.
 */

export type PeerState = "up" | "down" | "unknown";

/** What `wg show dump` says of the peer now; undefined when WireGuard does not know it (yet). */
export interface PeerObservation {
  readonly endpoint?: string;
  /** Epoch ms; 0 = never. */
  readonly latestHandshakeMs: number;
  readonly rxBytes: number;
}

export interface ProbeDecision {
  readonly state: PeerState;
  /** The endpoint WireGuard should have for the peer; undefined when there is no candidate. */
  readonly endpoint: string | undefined;
  /** Set the peer up afresh at `endpoint` now (a new candidate under test). */
  readonly probe: boolean;
  /** Candidates tried since the peer was last up. */
  readonly probes: number;
}

export interface EndpointProberOptions {
  /** How long a candidate has to bring a handshake; default 1 s. */
  readonly probeWindowMs?: number;
  /** After a full round without success, how long each candidate gets; default 5 s. */
  readonly retryWindowMs?: number;
  /** Silence (no handshake, no received byte) after which an up peer is down; default 3 × 25 s + 5 s. */
  readonly downAfterMs?: number;
  /** Age of the latest handshake after which its keys are unusable; default 180 s + 15 s. */
  readonly sessionMaxAgeMs?: number;
}

export interface EndpointProber {
  step(candidates: readonly string[], observed: PeerObservation | undefined, nowMs: number): ProbeDecision;
  /** Whether a probe started at or after this decision is still waiting for its window to pass. */
  probing(nowMs: number): boolean;
}

export const defaultProbeWindowMs = 1000;
export const defaultRetryWindowMs = 5000;
export const defaultDownAfterMs = 3 * 25_000 + 5000;
export const defaultSessionMaxAgeMs = 180_000 + 15_000;

export function createEndpointProber(options: EndpointProberOptions = {}): EndpointProber {
  const probeWindowMs = options.probeWindowMs ?? defaultProbeWindowMs;
  const retryWindowMs = options.retryWindowMs ?? defaultRetryWindowMs;
  const downAfterMs = options.downAfterMs ?? defaultDownAfterMs;
  const sessionMaxAgeMs = options.sessionMaxAgeMs ?? defaultSessionMaxAgeMs;
  let endpoint: string | undefined;
  /** When the candidate under test was set; undefined when not probing. */
  let probeStartedMs: number | undefined;
  let probeWindow = probeWindowMs;
  let probes = 0;
  let lastActivityMs = 0;
  let lastHandshakeMs = 0;
  let lastRx = 0;
  let everUp = false;

  function nextCandidate(candidates: readonly string[]): string {
    const at = endpoint === undefined ? -1 : candidates.indexOf(endpoint);
    return candidates[(at + 1) % candidates.length]!;
  }

  return {
    step(candidates, observed, nowMs) {
      if (observed) {
        if (observed.latestHandshakeMs > lastHandshakeMs) {
          lastHandshakeMs = observed.latestHandshakeMs;
          lastActivityMs = Math.max(lastActivityMs, observed.latestHandshakeMs);
        }
        // Counters restart when the peer is set up afresh.
        if (observed.rxBytes > lastRx) lastActivityMs = nowMs;
        lastRx = observed.rxBytes;
      }
      const handshakeMs = observed?.latestHandshakeMs ?? 0;
      const up =
        handshakeMs > 0 && nowMs - lastActivityMs <= downAfterMs && nowMs - handshakeMs <= sessionMaxAgeMs;
      if (up) {
        everUp = true;
        probeStartedMs = undefined;
        probes = 0;
        // Roaming: WireGuard follows authenticated packets; keep where it found the peer.
        endpoint = observed?.endpoint ?? endpoint;
        return { state: "up", endpoint, probe: false, probes };
      }
      // Down once the last candidate of the first round had its window too, not while it has it.
      const roundDone = candidates.length > 0 && probes > candidates.length;
      const state: PeerState = everUp || roundDone ? "down" : "unknown";
      if (candidates.length === 0) {
        probeStartedMs = undefined;
        return { state, endpoint: observed?.endpoint ?? endpoint, probe: false, probes };
      }
      if (probeStartedMs !== undefined && nowMs - probeStartedMs < probeWindow) {
        return { state, endpoint, probe: false, probes };
      }
      endpoint = nextCandidate(candidates);
      probeStartedMs = nowMs;
      probes++;
      probeWindow = probes <= candidates.length ? probeWindowMs : retryWindowMs;
      return {
        state: everUp || probes > candidates.length ? "down" : "unknown",
        endpoint,
        probe: true,
        probes,
      };
    },
    probing(nowMs) {
      return probeStartedMs !== undefined && nowMs - probeStartedMs < probeWindow;
    },
  };
}
