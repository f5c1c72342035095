import { access } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { backoffDelay } from "../../../runtime/controller/backoff.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { type EtcdInitialCluster, etcdArgs } from "../../etcd/etcd-args.ts";
import type { EtcdClients } from "../../etcd/etcd-clients.ts";
import { type JoinResult, joinCluster, promoteSelf } from "../../etcd/etcd-join.ts";
import { ensureEtcdPki } from "../../etcd/etcd-pki.ts";
import { etcdClientPort } from "../../etcd/etcd-spec.ts";
import { recordEtcdPid, stopStaleEtcd } from "../../etcd/stale-etcd.ts";
import {
  EtcdMembership,
  EtcdRootSecret,
  EtcdSpec,
  etcdMembershipId,
  etcdRootSecretId,
  etcdSpecId,
  ServiceSpec,
  ServiceStatusResource,
} from "../../resources/index.ts";

export const etcdServiceId = "etcd";

export interface EtcdControllerOptions {
  readonly clients: EtcdClients;
  /** Resolves the etcd program once, on first use. */
  readonly etcdBinary: () => Promise<string>;
  /** The pid of the etcd this agent's supervisor runs now, if any. */
  readonly runningPid: () => number | undefined;
}

/** True when etcd has data in `dataDir`: it starts from it and ignores the initial-cluster flags. */
export async function hasEtcdData(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, "member"));
    return true;
  } catch {
    return false;
  }
}

/** The flags that say what etcd is; the initial-cluster ones matter only on its first start. */
function stableArgs(args: readonly string[]): string[] {
  return args.filter((a) => !a.startsWith("--initial-cluster"));
}

/**
 * Runs etcd on a control plane as the supervised service `etcd` (a ServiceSpec beside the config's
 * services). With data, etcd starts from it. Without, it starts a new cluster after `plinth
 * bootstrap`, or else joins one: it adds itself as a learner through a member that answers
 * (retrying with backoff until one does), starts with the member list, and is promoted to a
 * voting member once it has caught up. Workers have no EtcdSpec, so they never run etcd.
 */
export function createEtcdController(options: EtcdControllerOptions): Controller {
  let joined: { key: string; result: JoinResult } | undefined;
  let joinAttempts = 0;
  let voting = false;
  let binary: string | undefined;
  let staleChecked = false;
  let recordedPid: number | undefined;
  return {
    name: "EtcdController",
    inputs: [
      { namespace: "etcd", type: EtcdSpec.type, id: etcdSpecId, kind: "weak" },
      { namespace: "secrets", type: EtcdRootSecret.type, id: etcdRootSecretId, kind: "weak" },
      { namespace: "etcd", type: EtcdMembership.type, id: etcdMembershipId, kind: "weak" },
      { namespace: "runtime", type: ServiceStatusResource.type, id: etcdServiceId, kind: "weak" },
    ],
    outputs: [{ type: ServiceSpec.type, kind: "shared" }],
    async reconcile(ctx) {
      const out = ctx.track(ServiceSpec.kind());
      const spec = (await ctx.find(EtcdSpec.ptr(etcdSpecId)))?.spec;
      const ca = (await ctx.find(EtcdRootSecret.ptr(etcdRootSecretId)))?.spec;
      const membership = (await ctx.find(EtcdMembership.ptr(etcdMembershipId)))?.spec;
      if (!spec || !ca || membership?.left) {
        joined = undefined;
        voting = false;
        await out.cleanup();
        return;
      }
      await ensureEtcdPki(spec, ca, { hostname: hostname() });
      const status = (await ctx.find(ServiceStatusResource.ptr(etcdServiceId)))?.spec;
      // The supervisor's own view: a stored ServiceStatus may still name an earlier process's etcd.
      const pid = options.runningPid();
      if (!staleChecked) {
        staleChecked = true;
        const stopped = await stopStaleEtcd(spec.pkiDir, spec.dataDir, { currentPid: pid });
        if (stopped)
          ctx.log.warn({ pid: stopped }, "stopped an etcd left running by an earlier agent process");
      }
      if (pid !== undefined && pid !== recordedPid) {
        await recordEtcdPid(spec.pkiDir, pid);
        recordedPid = pid;
      }
      const data = await hasEtcdData(spec.dataDir);
      let initial: EtcdInitialCluster | undefined;
      if (!data && membership?.initialize) {
        initial = { state: "new", members: `${spec.name}=${spec.peerUrl}` };
        voting = true;
      } else if (!data) {
        const key = JSON.stringify(spec);
        if (joined?.key !== key) {
          if (spec.joinEndpoints.length === 0) {
            ctx.log.info("etcd waits for 'plinth bootstrap': this node is the control-plane endpoint");
            await out.cleanup();
            return;
          }
          try {
            joined = { key, result: await joinCluster(options.clients, ca, spec, spec.joinEndpoints) };
            joinAttempts = 0;
            ctx.log.info(
              { member: joined.result.memberId, via: joined.result.via },
              "added this node to the etcd cluster as a learner",
            );
          } catch (err) {
            // Short waits: a cluster to join appears when someone bootstraps it, and etcd admits
            // one learner at a time.
            const delay = backoffDelay(joinAttempts++, { initialMs: 250, maxMs: 1000 });
            ctx.log.info(
              { err: (err as Error).message, retryInMs: delay },
              "cannot join the etcd cluster yet (one control plane needs 'plinth bootstrap'); retrying",
            );
            await out.cleanup();
            return { requeueAfterMs: delay };
          }
        }
        initial = joined.result.initial;
      }
      const { args, refused } = etcdArgs(spec, initial);
      if (refused.length > 0) {
        ctx.log.warn({ refused }, "ClusterConfig.etcd.extraArgs may not set flags the agent sets itself");
      }
      const existing = await ctx.find(ServiceSpec.ptr(etcdServiceId));
      // With data, keep the arguments etcd runs with when only the initial-cluster flags differ:
      // etcd ignores them now, and a changed spec would restart it.
      const keep =
        data &&
        existing?.metadata.owner === ctx.name &&
        JSON.stringify(stableArgs(existing.spec.args)) === JSON.stringify(stableArgs(args));
      binary ??= await options.etcdBinary();
      const address = spec.address.includes(":") ? `[${spec.address}]` : spec.address;
      await out.apply(
        ServiceSpec.make(etcdServiceId, {
          command: binary,
          args: keep ? [...existing.spec.args] : args,
          env: {},
          restart: "always",
          dependsOn: [],
          health: { tcp: `${address}:${etcdClientPort}`, intervalMs: 2000, timeoutMs: 1000 },
        }),
      );
      await out.cleanup();
      if (voting) return;
      if (status?.state !== "running" && status?.state !== "starting") return;
      const others = [...spec.joinEndpoints, ...(joined ? [joined.result.via] : []), spec.clientUrl];
      const promoted = await promoteSelf(options.clients, ca, spec, others).catch((err: Error) => {
        ctx.log.info({ err: err.message }, "cannot promote this etcd member yet");
        return "pending" as const;
      });
      if (promoted === "pending") return { requeueAfterMs: 1000 };
      if (promoted === "voting") ctx.log.info("this etcd member is a voting member");
      voting = true;
    },
  };
}
