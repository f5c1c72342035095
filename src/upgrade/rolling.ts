/** A node to upgrade, with its role (control planes go first). */
export interface RollingNode {
  readonly address: string;
  readonly role: "controlplane" | "worker" | "unknown";
}

/** How one node's upgrade ended. */
export interface NodeOutcome {
  readonly ok: boolean;
  /** "upgraded to 0.2.0", "rolled back to 0.1.0: …", "staged 0.2.0". */
  readonly detail: string;
}

export interface RollingResult {
  readonly ok: boolean;
  /** The nodes attempted, in order, with how each ended; nodes after a failure are absent. */
  readonly outcomes: readonly { readonly node: RollingNode; readonly outcome: NodeOutcome }[];
  /** Why the rollout stopped early, when it did. */
  readonly stoppedBecause?: string;
}

/** Control planes first (etcd members go while the workers still serve), otherwise as given. */
export function upgradeOrder(nodes: readonly RollingNode[]): RollingNode[] {
  const rank = (n: RollingNode) => (n.role === "controlplane" ? 0 : n.role === "worker" ? 1 : 2);
  return nodes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i)
    .map((x) => x.n);
}

/**
 * Upgrades nodes one at a time; before each node after the first, the cluster must be healthy
 * (`healthy` waits for it, up to its own deadline). Stops at the first node that fails or the
 * first health check that does not pass.
 */
export async function rollingUpgrade(options: {
  readonly nodes: readonly RollingNode[];
  upgrade(node: RollingNode): Promise<NodeOutcome>;
  healthy(before: RollingNode): Promise<{ ok: boolean; detail: string }>;
  readonly signal?: AbortSignal;
}): Promise<RollingResult> {
  const outcomes: { node: RollingNode; outcome: NodeOutcome }[] = [];
  const order = upgradeOrder(options.nodes);
  for (const [i, node] of order.entries()) {
    if (options.signal?.aborted) return { ok: false, outcomes, stoppedBecause: "canceled" };
    if (i > 0) {
      const h = await options.healthy(node);
      if (!h.ok) {
        return {
          ok: false,
          outcomes,
          stoppedBecause: `the cluster is not healthy before ${node.address}: ${h.detail}`,
        };
      }
    }
    const outcome = await options.upgrade(node);
    outcomes.push({ node, outcome });
    if (!outcome.ok) {
      return { ok: false, outcomes, stoppedBecause: `${node.address}: ${outcome.detail}` };
    }
  }
  return { ok: true, outcomes };
}
