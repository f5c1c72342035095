/** What takes a control plane's etcd member down (for a while, or for good). */
export type GuardedAction = "reboot" | "shutdown" | "upgrade" | "reset" | "leave";

/** A member as the guard sees it. */
export interface GuardMember {
  /** Hexadecimal member id. */
  readonly id: string;
  /** Empty while an added member has not started. */
  readonly name: string;
  readonly isLearner: boolean;
  /** Answered a status request and knows a leader. */
  readonly healthy: boolean;
  /** Why it is not healthy. */
  readonly error?: string;
}

export type GuardDecision =
  | { readonly allowed: true; readonly reason: string }
  | { readonly allowed: false; readonly reason: string; readonly unhealthy: readonly GuardMember[] };

/** Actions after which the member comes back with its data; the others remove it for good. */
const comesBack: ReadonlySet<GuardedAction> = new Set(["reboot", "shutdown", "upgrade"]);

/** "node-3 (id 8e9e05c52164694d)", or "(not started) (id …)" for an added member. */
export function describeMember(m: GuardMember): string {
  return `${m.name === "" ? "(not started)" : m.name} (id ${m.id})`;
}

/** "node-3 (id 8e9e05c52164694d) is unhealthy (connect ECONNREFUSED 127.0.0.4:2379)". */
function describeProblem(m: GuardMember): string {
  const what = m.name === "" ? "has not started" : "is down or unhealthy";
  return `${describeMember(m)} ${what}${m.error && m.name !== "" ? ` (${m.error})` : ""}`;
}

/**
 * Whether taking this node's etcd member down keeps the cluster safe. Voting members only count
 * (learners never hold quorum). Refused when:
 * - the cluster has exactly 2 voting members: either one down loses quorum;
 * - another voting member is down, unhealthy or not started: this one going too risks quorum,
 *   and a wedged cluster is not the moment for more change;
 * - the only member would be reset or leave: that destroys the cluster's data.
 * Allowed when this node is no member or a learner, and for a single member that comes back
 * (reboot, shutdown, upgrade): nobody else depends on it staying up.
 */
export function quorumGuard(input: {
  readonly action: GuardedAction;
  /** This node's member id; undefined when it is no member. */
  readonly selfId: string | undefined;
  readonly members: readonly GuardMember[];
}): GuardDecision {
  const { action, selfId, members } = input;
  const self = members.find((m) => m.id === selfId);
  if (!self) return { allowed: true, reason: "this node is not an etcd member" };
  if (self.isLearner) return { allowed: true, reason: "this node is a learner: it holds no vote" };
  const voting = members.filter((m) => !m.isLearner);
  if (voting.length === 1) {
    if (comesBack.has(action)) {
      return {
        allowed: true,
        reason: "this node is the only etcd member: etcd is unavailable until it is back",
      };
    }
    return {
      allowed: false,
      reason: `this node is the only etcd member: a ${action} would destroy the cluster's data`,
      unhealthy: [],
    };
  }
  if (voting.length === 2) {
    return {
      allowed: false,
      reason: `the etcd cluster has exactly 2 members: with either one down it has no quorum (${voting.map(describeMember).join(", ")})`,
      unhealthy: voting.filter((m) => !m.healthy),
    };
  }
  const others = voting.filter((m) => m.id !== self.id);
  const unhealthy = others.filter((m) => !m.healthy || m.name === "");
  if (unhealthy.length > 0) {
    return {
      allowed: false,
      reason: `etcd member ${unhealthy.map(describeProblem).join("; etcd member ")}; all other members must be healthy first`,
      unhealthy,
    };
  }
  // With 3 or more voting members all healthy, the others always make a quorum.
  const quorum = Math.floor(voting.length / 2) + 1;
  return {
    allowed: true,
    reason: `${others.length} of ${voting.length} etcd members remain healthy (quorum ${quorum})`,
  };
}
