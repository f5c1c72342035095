import type { IMember, IStatusResponse } from "etcd3";
import { PlinthError } from "../../errors/plinth-error.ts";
import { type EtcdClients, etcdCall, memberIdHex } from "./etcd-clients.ts";
import type { EtcdRootSecretContent } from "./etcd-spec.ts";
import type { GuardMember } from "./quorum-guard.ts";

export interface MemberView extends GuardMember {
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLeader: boolean;
  /** What the member said of itself, when it answered. */
  readonly status?: IStatusResponse;
}

export interface ClusterView {
  /** The client URL whose member answered the member list. */
  readonly via: string;
  readonly members: readonly MemberView[];
  /** Hexadecimal id of the leader most members agree on; undefined without one. */
  readonly leaderId?: string;
}

export interface ObserveOptions {
  /** How long each member has to answer; default 1.5 s. */
  readonly timeoutMs?: number;
}

/**
 * The gist of a failed call for a member list: "connect ECONNREFUSED 127.0.0.4:2379" rather
 * than gRPC's whole story.
 */
export function shortEtcdError(message: string): string {
  const cause = message.match(/Last error: (?:Error: )?(.*?)\.? Resolution note/)?.[1];
  if (cause) return cause;
  return message
    .replace(/^cannot [^:]*: /, "")
    .replace(/^etcd is unavailable \((.*)\)$/, "$1")
    .replace(/^\d+ [A-Z_]+: /, "");
}

function deadline(timeoutMs: number) {
  return { deadline: Date.now() + timeoutMs };
}

/** The members, from the first of `urls` that answers, in order. */
export async function listMembers(
  clients: EtcdClients,
  ca: EtcdRootSecretContent,
  urls: readonly string[],
  options: ObserveOptions = {},
): Promise<{ via: string; members: IMember[] }> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const failures: string[] = [];
  for (const url of new Set(urls)) {
    try {
      const client = await clients.client(ca, url);
      const res = await etcdCall(`list the members at ${url}`, () =>
        client.cluster.memberList({}, deadline(timeoutMs)),
      );
      return { via: url, members: res.members };
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new PlinthError(
    "unavailable",
    urls.length === 0 ? "no etcd member is known to ask" : `no etcd member answers (${failures.join("; ")})`,
  );
}

/**
 * The cluster as it is right now: the member list, then every member's own status, asked in
 * parallel. A member is healthy when it answers, knows a leader and reports no errors (alarms).
 */
export async function observeCluster(
  clients: EtcdClients,
  ca: EtcdRootSecretContent,
  urls: readonly string[],
  options: ObserveOptions = {},
): Promise<ClusterView> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const { via, members } = await listMembers(clients, ca, urls, options);
  const statuses = await Promise.all(
    members.map(async (m): Promise<{ status?: IStatusResponse; error?: string }> => {
      const url = m.clientURLs[0];
      if (!url || m.name === "") return { error: "not started" };
      try {
        const client = await clients.client(ca, url);
        const status = await etcdCall(`ask ${m.name} for its status`, () =>
          client.maintenance.status(deadline(timeoutMs)),
        );
        return { status };
      } catch (err) {
        return { error: shortEtcdError((err as Error).message) };
      }
    }),
  );
  const votes = new Map<string, number>();
  for (const s of statuses) {
    const leader = s.status?.leader;
    if (leader && leader !== "0") votes.set(leader, (votes.get(leader) ?? 0) + 1);
  }
  const leader = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  const leaderId = leader === undefined ? undefined : memberIdHex(leader);
  return {
    via,
    leaderId,
    members: members.map((m, i) => {
      const { status, error } = statuses[i]!;
      const problem =
        error ??
        (status && status.leader === "0"
          ? "has no leader"
          : status && status.errors.length > 0
            ? status.errors.join("; ")
            : undefined);
      const id = memberIdHex(m.ID);
      return {
        id,
        name: m.name,
        peerUrls: m.peerURLs,
        clientUrls: m.clientURLs,
        isLearner: !!m.isLearner,
        isLeader: id === leaderId,
        healthy: problem === undefined,
        ...(problem !== undefined ? { error: problem } : {}),
        ...(status ? { status } : {}),
      };
    }),
  };
}
