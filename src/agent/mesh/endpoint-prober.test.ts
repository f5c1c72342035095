import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createEndpointProber, type PeerObservation } from "./endpoint-prober.ts";

const a = "10.0.0.1:51820";
const b = "192.0.2.1:51820";
const c = "[fd00::1]:51820";

/** A fake clock and a peer whose WireGuard state the test sets. */
function harness(options = {}) {
  const prober = createEndpointProber(options);
  let now = 1_000_000;
  let observed: PeerObservation | undefined;
  return {
    prober,
    advance(ms: number) {
      now += ms;
    },
    now: () => now,
    see(o: PeerObservation | undefined) {
      observed = o;
    },
    step(candidates: readonly string[]) {
      return prober.step(candidates, observed, now);
    },
  };
}

describe("endpoint prober", () => {
  it("tries the first candidate at once and keeps it when a handshake comes", () => {
    const h = harness();
    const first = h.step([a, b]);
    assert.deepEqual(first, { state: "unknown", endpoint: a, probe: true, probes: 1 });
    h.advance(200);
    h.see({ endpoint: a, latestHandshakeMs: h.now() - 50, rxBytes: 92 });
    assert.deepEqual(h.step([a, b]), { state: "up", endpoint: a, probe: false, probes: 0 });
  });

  it("moves to the next candidate after the probe window, one per second, not one per 30 s", () => {
    const h = harness({ probeWindowMs: 1000 });
    assert.equal(h.step([a, b, c]).endpoint, a);
    h.advance(500);
    assert.deepEqual(h.step([a, b, c]), { state: "unknown", endpoint: a, probe: false, probes: 1 });
    h.advance(500);
    assert.deepEqual(h.step([a, b, c]), { state: "unknown", endpoint: b, probe: true, probes: 2 });
    h.advance(1000);
    assert.equal(h.step([a, b, c]).endpoint, c);
    h.advance(300);
    h.see({ endpoint: c, latestHandshakeMs: h.now(), rxBytes: 32 });
    const settled = h.step([a, b, c]);
    assert.equal(settled.state, "up");
    assert.equal(settled.endpoint, c);
  });

  it("reports down after a full round without a handshake, then retries more slowly", () => {
    const h = harness({ probeWindowMs: 1000, retryWindowMs: 5000 });
    h.step([a, b]);
    h.advance(1000);
    assert.equal(h.step([a, b]).endpoint, b);
    h.advance(1000);
    const third = h.step([a, b]);
    assert.deepEqual(third, { state: "down", endpoint: a, probe: true, probes: 3 });
    h.advance(1000);
    assert.equal(h.step([a, b]).probe, false, "after a full round each candidate gets the retry window");
    h.advance(4000);
    assert.equal(h.step([a, b]).endpoint, b);
  });

  it("is not down while the last candidate of the first round still has its window", () => {
    const h = harness({ probeWindowMs: 1000 });
    assert.deepEqual(h.step([a]), { state: "unknown", endpoint: a, probe: true, probes: 1 });
    h.advance(999);
    assert.deepEqual(h.step([a]), { state: "unknown", endpoint: a, probe: false, probes: 1 });
    h.advance(1);
    assert.deepEqual(h.step([a]), { state: "down", endpoint: a, probe: true, probes: 2 });
    h.advance(100);
    assert.equal(h.step([a]).state, "down", "down while the retry window runs");
  });

  it("follows the peer where WireGuard found it (roaming) instead of resetting the endpoint", () => {
    const h = harness();
    h.step([a]);
    h.see({ endpoint: a, latestHandshakeMs: h.now(), rxBytes: 100 });
    assert.equal(h.step([a]).endpoint, a);
    h.advance(10_000);
    h.see({ endpoint: b, latestHandshakeMs: h.now() - 10_000, rxBytes: 500 });
    assert.deepEqual(h.step([a]), { state: "up", endpoint: b, probe: false, probes: 0 });
  });

  it("marks an up peer down after three keepalives of silence plus grace, and searches again", () => {
    const h = harness({ downAfterMs: 80_000 });
    h.step([a, b]);
    const handshake = h.now();
    h.see({ endpoint: a, latestHandshakeMs: handshake, rxBytes: 100 });
    assert.equal(h.step([a, b]).state, "up");
    // Keepalives arrive: received bytes grow, the handshake stays as it was.
    for (let i = 0; i < 3; i++) {
      h.advance(25_000);
      h.see({ endpoint: a, latestHandshakeMs: handshake, rxBytes: 100 + 32 * (i + 1) });
      assert.equal(h.step([a, b]).state, "up");
    }
    // Then silence.
    h.advance(79_000);
    assert.equal(h.step([a, b]).state, "up");
    h.advance(2000);
    const down = h.step([a, b]);
    assert.deepEqual(down, { state: "down", endpoint: b, probe: true, probes: 1 });
  });

  it("a session older than WireGuard keeps keys is down even when bytes still count up", () => {
    const h = harness({ sessionMaxAgeMs: 195_000 });
    h.step([a]);
    const handshake = h.now();
    for (let t = 0; t <= 200_000; t += 20_000) {
      h.see({ endpoint: a, latestHandshakeMs: handshake, rxBytes: 100 + t });
      const d = h.step([a]);
      assert.equal(d.state, t <= 195_000 ? "up" : "down", `at ${t} ms`);
      h.advance(20_000);
    }
  });

  it("with no candidate stays unknown and asks for nothing", () => {
    const h = harness();
    assert.deepEqual(h.step([]), { state: "unknown", endpoint: undefined, probe: false, probes: 0 });
    assert.equal(h.prober.probing(h.now()), false);
  });

  it("says whether a probe is still within its window", () => {
    const h = harness({ probeWindowMs: 1000 });
    h.step([a, b]);
    assert.equal(h.prober.probing(h.now() + 999), true);
    assert.equal(h.prober.probing(h.now() + 1000), false);
  });
});
