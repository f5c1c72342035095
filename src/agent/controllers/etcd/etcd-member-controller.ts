import type { Controller } from "../../../runtime/controller/controller.ts";
import type { EtcdClients } from "../../etcd/etcd-clients.ts";
import { memberIdHex } from "../../etcd/etcd-clients.ts";
import { observeCluster } from "../../etcd/etcd-observe.ts";
import { releaseLifecycleLock } from "../../etcd/lifecycle-lock.ts";
import {
  EtcdMember,
  EtcdRootSecret,
  EtcdSpec,
  EtcdStatus,
  etcdRootSecretId,
  etcdSpecId,
  etcdStatusId,
  ServiceStatusResource,
} from "../../resources/index.ts";
import { etcdServiceId } from "./etcd-controller.ts";

export interface EtcdMemberControllerOptions {
  readonly clients: EtcdClients;
  /** This boot of the agent: a lifecycle lock this member took in an earlier boot is released. */
  readonly bootId: string;
  /** How often the members are asked again; default 3 s. */
  readonly refreshMs?: number;
}

const down = {
  memberId: "",
  leader: "",
  isLeader: false,
  isLearner: false,
  healthy: false,
  version: "",
  dbSize: 0,
  dbSizeInUse: 0,
  raftIndex: 0,
  raftTerm: 0,
  raftAppliedIndex: 0,
};

/**
 * Observes the etcd cluster through the local member (else the join endpoints): one EtcdMember per
 * member with its health, and EtcdStatus for the local member. Once the local member is healthy
 * again after a reboot, it releases the cluster-wide lifecycle lock it took before going down.
 */
export function createEtcdMemberController(options: EtcdMemberControllerOptions): Controller {
  const refreshMs = options.refreshMs ?? 3000;
  return {
    name: "EtcdMemberController",
    inputs: [
      { namespace: "etcd", type: EtcdSpec.type, id: etcdSpecId, kind: "weak" },
      { namespace: "secrets", type: EtcdRootSecret.type, id: etcdRootSecretId, kind: "weak" },
      { namespace: "runtime", type: ServiceStatusResource.type, id: etcdServiceId, kind: "weak" },
    ],
    outputs: [
      { type: EtcdMember.type, kind: "exclusive" },
      { type: EtcdStatus.type, kind: "exclusive" },
    ],
    async reconcile(ctx) {
      const members = ctx.track(EtcdMember.kind());
      const statuses = ctx.track(EtcdStatus.kind());
      const spec = (await ctx.find(EtcdSpec.ptr(etcdSpecId)))?.spec;
      const ca = (await ctx.find(EtcdRootSecret.ptr(etcdRootSecretId)))?.spec;
      const service = await ctx.find(ServiceStatusResource.ptr(etcdServiceId));
      if (!spec || !ca || !service) {
        await members.cleanup();
        await statuses.cleanup();
        return;
      }
      try {
        const view = await observeCluster(options.clients, ca, [spec.clientUrl, ...spec.joinEndpoints]);
        for (const m of view.members) {
          await members.apply(
            EtcdMember.make(m.id, {
              name: m.name,
              peerUrls: [...m.peerUrls],
              clientUrls: [...m.clientUrls],
              isLearner: m.isLearner,
              isLeader: m.isLeader,
              healthy: m.healthy,
              ...(m.error !== undefined ? { error: m.error } : {}),
            }),
          );
        }
        const self = view.members.find((m) => m.peerUrls.includes(spec.peerUrl));
        const s = self?.status;
        await statuses.apply(
          EtcdStatus.make(etcdStatusId, {
            ...down,
            ...(self ? { memberId: self.id, isLearner: self.isLearner, isLeader: self.isLeader } : {}),
            ...(s
              ? {
                  leader: s.leader === "0" ? "" : memberIdHex(s.leader),
                  version: s.version,
                  dbSize: Number(s.dbSize),
                  dbSizeInUse: Number(s.dbSizeInUse ?? 0),
                  raftIndex: Number(s.raftIndex),
                  raftTerm: Number(s.raftTerm),
                  raftAppliedIndex: Number(s.raftAppliedIndex ?? 0),
                }
              : {}),
            healthy: self?.healthy ?? false,
            errors: self ? (self.error ? [self.error] : []) : ["this node is not an etcd member"],
          }),
        );
        if (self?.healthy) {
          const client = await options.clients.client(ca, spec.clientUrl);
          const released = await releaseLifecycleLock(
            client,
            spec.name,
            (h) => h.bootId !== options.bootId,
          ).catch(() => false);
          if (released)
            ctx.log.info("released the cluster-wide lifecycle lock: this member is back and healthy");
        }
      } catch (err) {
        await statuses.apply(EtcdStatus.make(etcdStatusId, { ...down, errors: [(err as Error).message] }));
      }
      await members.cleanup();
      await statuses.cleanup();
      return { requeueAfterMs: refreshMs };
    },
  };
}
