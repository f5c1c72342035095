import type { IMember } from "etcd3";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { EtcdInitialCluster } from "./etcd-args.ts";
import { type EtcdClients, etcdCall, memberIdHex } from "./etcd-clients.ts";
import { listMembers } from "./etcd-observe.ts";
import type { EtcdRootSecretContent, EtcdSpecContent } from "./etcd-spec.ts";

export interface JoinResult {
  /** Hexadecimal id of this node's new member. */
  readonly memberId: string;
  readonly initial: EtcdInitialCluster;
  /** The client URL of the member that added this one. */
  readonly via: string;
}

/** `name=peerURL,…` for every member; `self` gets this node's name (it has none until it starts). */
export function initialClusterOf(members: readonly IMember[], self: IMember, name: string): string {
  return members
    .flatMap((m) => m.peerURLs.map((url) => `${m.ID === self.ID ? name : m.name}=${url}`))
    .join(",");
}

/**
 * Adds this node to an existing cluster through the first of `candidates` that answers, as a
 * learner (it holds no vote, so a member that never starts cannot cost the cluster its quorum;
 * it is promoted once it has caught up). A member already added with this node's peer URL but
 * never started is reused; one that did start is an earlier life of this node whose data is gone,
 * and is removed first.
 */
export async function joinCluster(
  clients: EtcdClients,
  ca: EtcdRootSecretContent,
  spec: EtcdSpecContent,
  candidates: readonly string[],
): Promise<JoinResult> {
  const { via, members } = await listMembers(clients, ca, candidates);
  const client = await clients.client(ca, via);
  let current = members;
  let self = members.find((m) => m.peerURLs.includes(spec.peerUrl));
  if (self && self.name !== "") {
    if (self.name !== spec.name) {
      throw new PlinthError(
        "failed_precondition",
        `cannot join etcd through ${via}: peer URL ${spec.peerUrl} belongs to member ${self.name} (id ${memberIdHex(self.ID)})`,
      );
    }
    const stale = self;
    await etcdCall(`remove this node's earlier member ${memberIdHex(stale.ID)} through ${via}`, () =>
      client.cluster.memberRemove({ ID: stale.ID }),
    );
    self = undefined;
    current = members.filter((m) => m.ID !== stale.ID);
  }
  if (!self) {
    const added = await etcdCall(`add this node as an etcd member through ${via}`, () =>
      client.cluster.memberAdd({ peerURLs: [spec.peerUrl], isLearner: true }),
    );
    self = added.member;
    current = added.members;
  }
  return {
    memberId: memberIdHex(self.ID),
    initial: { state: "existing", members: initialClusterOf(current, self, spec.name) },
    via,
  };
}

/**
 * Promotes this node's member from learner to voting member, through the other members.
 * Returns "voting" once it is one, "pending" while etcd says the learner has not caught up.
 */
export async function promoteSelf(
  clients: EtcdClients,
  ca: EtcdRootSecretContent,
  spec: EtcdSpecContent,
  others: readonly string[],
): Promise<"voting" | "pending" | "absent"> {
  const { via, members } = await listMembers(clients, ca, others);
  const self = members.find((m) => m.peerURLs.includes(spec.peerUrl));
  if (!self) return "absent";
  if (!self.isLearner) return "voting";
  const client = await clients.client(ca, via);
  try {
    await etcdCall(`promote member ${memberIdHex(self.ID)} through ${via}`, () =>
      client.cluster.memberPromote({ ID: self.ID }),
    );
    return "voting";
  } catch (err) {
    if (/not in sync|learner/i.test((err as Error).message)) return "pending";
    throw err;
  }
}
