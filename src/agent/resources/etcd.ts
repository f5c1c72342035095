import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const etcdSpecId = "etcd";
export const etcdRootSecretId = "etcd";
export const etcdMembershipId = "local";
export const etcdStatusId = "local";

/** How this control plane runs etcd: derived from the config (EtcdConfigController). */
export const EtcdSpec = defineResource({
  type: "EtcdSpec",
  namespace: "etcd",
  aliases: ["etcdspecs"],
  printColumns: [
    { name: "Name", path: "name" },
    { name: "Client", path: "clientUrl" },
    { name: "Peer", path: "peerUrl" },
  ],
  schema: z.strictObject({
    /** The member name; unique in the cluster. */
    name: z.string().min(1),
    /** The address etcd binds to and advertises. */
    address: z.string().min(1),
    clientUrl: z.string(),
    peerUrl: z.string(),
    dataDir: z.string(),
    /** Where the agent writes etcd's certificates and keys. */
    pkiDir: z.string(),
    /** --initial-cluster-token of a new cluster. */
    clusterToken: z.string(),
    /** Client URLs tried, in order, to find a member to join through. */
    joinEndpoints: z.array(z.string()),
    extraArgs: z.record(z.string(), z.string()),
  }),
});

/** The etcd CA with its key: the agent issues etcd's certificates with it. */
export const EtcdRootSecret = defineResource({
  type: "EtcdRootSecret",
  namespace: "secrets",
  aliases: ["etcdrootsecrets"],
  sensitivity: "sensitive",
  schema: z.strictObject({ crt: z.string(), key: z.string() }),
});

/**
 * What was asked of this node's membership through the API: `initialize` after `plinth
 * bootstrap` (start a new cluster instead of joining one), `left` after `plinth etcd leave`
 * (etcd stays stopped until the next boot).
 */
export const EtcdMembership = defineResource({
  type: "EtcdMembership",
  namespace: "etcd",
  aliases: ["etcdmemberships"],
  printColumns: [
    { name: "Initialize", path: "initialize" },
    { name: "Left", path: "left" },
  ],
  schema: z.strictObject({
    initialize: z.boolean(),
    left: z.boolean(),
    /** When `initialize` was set. */
    bootstrappedAt: z.string().optional(),
  }),
});

/** One member of the etcd cluster, as this node's etcd lists it; id = hexadecimal member id. */
export const EtcdMember = defineResource({
  type: "EtcdMember",
  namespace: "etcd",
  aliases: ["etcdmembers", "members"],
  printColumns: [
    { name: "Name", path: "name" },
    { name: "Leader", path: "isLeader" },
    { name: "Learner", path: "isLearner" },
    { name: "Healthy", path: "healthy" },
    { name: "Peer-URLs", path: "peerUrls" },
  ],
  schema: z.strictObject({
    /** Empty while an added member has not started. */
    name: z.string(),
    peerUrls: z.array(z.string()),
    clientUrls: z.array(z.string()),
    isLearner: z.boolean(),
    isLeader: z.boolean(),
    healthy: z.boolean(),
    error: z.string().optional(),
  }),
});

/** The local etcd member as it reports itself. */
export const EtcdStatus = defineResource({
  type: "EtcdStatus",
  namespace: "etcd",
  aliases: ["etcdstatuses"],
  printColumns: [
    { name: "Member", path: "memberId" },
    { name: "Leader", path: "leader" },
    { name: "Healthy", path: "healthy" },
    { name: "DB-Size", path: "dbSize" },
    { name: "Raft-Index", path: "raftIndex" },
  ],
  schema: z.strictObject({
    /** Hexadecimal ids; empty when the member does not answer. */
    memberId: z.string(),
    leader: z.string(),
    isLeader: z.boolean(),
    isLearner: z.boolean(),
    healthy: z.boolean(),
    version: z.string(),
    dbSize: z.number().int().nonnegative(),
    dbSizeInUse: z.number().int().nonnegative(),
    raftIndex: z.number().int().nonnegative(),
    raftTerm: z.number().int().nonnegative(),
    raftAppliedIndex: z.number().int().nonnegative(),
    errors: z.array(z.string()),
  }),
});
