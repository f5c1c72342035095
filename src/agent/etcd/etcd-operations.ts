import { rm } from "node:fs/promises";
import type { IStatusResponse } from "etcd3";
import type { Logger } from "pino";
import { PlinthError } from "../../errors/plinth-error.ts";
import { translateEtcdError } from "../../runtime/state/backends/etcd/etcd-error.ts";
import type { State } from "../../runtime/state/state.ts";
import { etcdServiceId, hasEtcdData } from "../controllers/etcd/etcd-controller.ts";
import {
  EtcdMember,
  EtcdMembership,
  EtcdRootSecret,
  EtcdSpec,
  etcdMembershipId,
  etcdRootSecretId,
  etcdSpecId,
} from "../resources/index.ts";
import type { Supervisor } from "../services/supervisor.ts";
import { type EtcdClients, etcdCall, memberIdFromHex } from "./etcd-clients.ts";
import { type ClusterView, observeCluster } from "./etcd-observe.ts";
import type { EtcdRootSecretContent, EtcdSpecContent } from "./etcd-spec.ts";
import { acquireLifecycleLock, releaseLifecycleLock } from "./lifecycle-lock.ts";
import { describeMember, type GuardedAction, quorumGuard } from "./quorum-guard.ts";

/** What the machine service asks of this node's etcd. */
export interface EtcdOperations {
  /** Marks this node to start a new cluster; refused when one exists. Returns what happens next. */
  bootstrap(): Promise<string>;
  members(): Promise<ClusterView>;
  /** The local member's own status. */
  status(): Promise<IStatusResponse>;
  snapshot(signal: AbortSignal): AsyncIterable<Uint8Array>;
  /** Moves leadership to another healthy member; returns its name, or "" when this node did not lead. */
  forfeitLeadership(): Promise<string>;
  /** Guards, removes this member, stops etcd and wipes its data. Returns warnings. */
  leave(options: { force: boolean }): Promise<string[]>;
  removeMember(idHex: string): Promise<string>;
  /**
   * Before `action` takes this node's member down: the quorum check and the cluster-wide lock,
   * or with `force` neither (returned as a warning). Throws failed_precondition on refusal.
   */
  guard(action: GuardedAction, options: { force: boolean }): Promise<string[]>;
  /** Best effort before this node goes down: leadership to another member. */
  beforeShutdown(): Promise<void>;
  /**
   * Before the agent stops on a signal (which cannot be refused): a loud warning when this
   * member going down leaves etcd without quorum, then leadership to another member; at most
   * `timeoutMs` in all.
   */
  beforeStop(timeoutMs: number): Promise<void>;
  /** Removes this member from the cluster (reset --graceful), without a second check. */
  leaveForReset(): Promise<void>;
  /** etcd's directories, for a reset to wipe. */
  dataDirs(): Promise<string[]>;
}

export interface EtcdOperationsOptions {
  readonly state: State;
  readonly clients: EtcdClients;
  readonly supervisor: Supervisor;
  readonly log: Logger;
  readonly bootId: string;
}

interface EtcdContext {
  readonly spec: EtcdSpecContent;
  readonly ca: EtcdRootSecretContent;
}

const noEtcd =
  "this machine runs no etcd: only control planes (MachineConfig.type controlplane with ClusterConfig.etcd) do";

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new PlinthError("deadline_exceeded", `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The agent's side of the etcd RPCs, the quorum guard and the lifecycle lock. */
export function createEtcdOperations(options: EtcdOperationsOptions): EtcdOperations {
  const { state, clients, supervisor, log } = options;

  async function context(): Promise<EtcdContext | undefined> {
    const spec = (await state.find(EtcdSpec.ptr(etcdSpecId)))?.spec;
    const ca = (await state.find(EtcdRootSecret.ptr(etcdRootSecretId)))?.spec;
    return spec && ca ? { spec, ca } : undefined;
  }

  async function required(rpc: string): Promise<EtcdContext> {
    const ctx = await context();
    if (!ctx) throw new PlinthError("failed_precondition", `${rpc}: ${noEtcd}`);
    return ctx;
  }

  /** Where to ask: the local member first, then the join endpoints and every member seen lately. */
  async function candidates(ctx: EtcdContext): Promise<string[]> {
    const seen = (await state.list(EtcdMember.kind())).flatMap(
      (m) => (m.spec as { clientUrls: string[] }).clientUrls,
    );
    return [...new Set([ctx.spec.clientUrl, ...ctx.spec.joinEndpoints, ...seen])];
  }

  const observe = async (ctx: EtcdContext) => observeCluster(clients, ctx.ca, await candidates(ctx));
  const selfOf = (ctx: EtcdContext, view: ClusterView) =>
    view.members.find((m) => m.peerUrls.includes(ctx.spec.peerUrl));

  /** A client of a healthy member other than this one, for changes made from outside it. */
  async function otherClient(ctx: EtcdContext, view: ClusterView, what: string) {
    const other = view.members.find(
      (m) => m.healthy && !m.peerUrls.includes(ctx.spec.peerUrl) && m.clientUrls.length > 0,
    );
    if (!other) throw new PlinthError("failed_precondition", `cannot ${what}: no other healthy etcd member`);
    return { member: other, client: await clients.client(ctx.ca, other.clientUrls[0]!) };
  }

  async function moveLeadership(ctx: EtcdContext, view: ClusterView): Promise<string> {
    const self = selfOf(ctx, view);
    if (!self?.isLeader) return "";
    const target = view.members
      .filter((m) => m !== self && m.healthy && !m.isLearner)
      .sort((a, b) => Number(b.status?.raftIndex ?? 0) - Number(a.status?.raftIndex ?? 0))[0];
    if (!target) {
      throw new PlinthError(
        "failed_precondition",
        "cannot forfeit etcd leadership: no other healthy voting member to take it",
      );
    }
    const client = await clients.client(ctx.ca, ctx.spec.clientUrl);
    await etcdCall(`move etcd leadership to ${target.name}`, () =>
      client.maintenance.moveLeader({ targetID: memberIdFromHex(target.id) }),
    );
    log.info({ to: target.name }, "etcd leadership moved to another member");
    return target.name;
  }

  async function setMembership(change: { initialize: boolean; left: boolean }): Promise<void> {
    await state.upsert(
      EtcdMembership.ptr(etcdMembershipId),
      (d) => {
        d.spec = {
          ...change,
          ...(change.initialize ? { bootstrappedAt: new Date().toISOString() } : {}),
        };
      },
      { owner: "agent", initial: () => ({ ...change }) },
    );
  }

  /** Removes this node's member through another one, stops etcd and wipes its data. */
  async function removeSelf(ctx: EtcdContext): Promise<void> {
    const view = await observe(ctx);
    const self = selfOf(ctx, view);
    if (!self) throw new PlinthError("failed_precondition", "this node is not a member of the etcd cluster");
    const alone = view.members.every((m) => m === self);
    // The last member cannot be removed: leaving (forced) ends the cluster with its data.
    const other = alone ? undefined : await otherClient(ctx, view, "leave the etcd cluster");
    if (other) {
      await moveLeadership(ctx, view).catch((err: Error) =>
        log.warn({ err: err.message }, "cannot move etcd leadership away"),
      );
      await etcdCall(`remove this node's member ${self.id} through ${other.member.name}`, () =>
        other.client.cluster.memberRemove({ ID: memberIdFromHex(self.id) }),
      );
    }
    log.warn({ member: self.id, alone }, "this node left the etcd cluster");
    await setMembership({ initialize: false, left: true });
    await waitUntil("etcd to stop", () => !supervisor.list().some((s) => s.id === etcdServiceId), 20_000);
    await rm(ctx.spec.dataDir, { recursive: true, force: true });
    if (other) await releaseLifecycleLock(other.client, ctx.spec.name).catch(() => false);
  }

  async function guard(action: GuardedAction, { force }: { force: boolean }): Promise<string[]> {
    const ctx = await context();
    if (!ctx) return [];
    const running = supervisor.list().some((s) => s.id === etcdServiceId);
    if (!running && !(await hasEtcdData(ctx.spec.dataDir))) return [];
    if (force) {
      const warning = `--force: the etcd quorum check and the cluster-wide lock were skipped for this ${action}; etcd may lose quorum`;
      log.warn({ action }, warning);
      return [warning];
    }
    let view: ClusterView;
    try {
      view = await observe(ctx);
    } catch (err) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot ${action}: the etcd cluster's health is unknown (${(err as Error).message}); use --force to ${action} anyway`,
        { cause: err },
      );
    }
    const self = selfOf(ctx, view);
    const decision = quorumGuard({ action, selfId: self?.id, members: view.members });
    if (!decision.allowed) {
      throw new PlinthError(
        "failed_precondition",
        `Cannot ${action} ${ctx.spec.name}: ${decision.reason}; use --force to ${action} anyway`,
      );
    }
    log.info({ action, reason: decision.reason }, "etcd quorum check passed");
    const voters = view.members.filter((m) => !m.isLearner).length;
    if (self && !self.isLearner && voters > 1) {
      const lockUrl = (self.healthy ? self : view.members.find((m) => m.healthy))?.clientUrls[0] ?? view.via;
      const client = await clients.client(ctx.ca, lockUrl);
      await acquireLifecycleLock(client, {
        member: ctx.spec.name,
        action,
        bootId: options.bootId,
        at: new Date().toISOString(),
      }).catch((err: Error) => {
        throw new PlinthError("failed_precondition", `Cannot ${action} ${ctx.spec.name}: ${err.message}`, {
          cause: err,
        });
      });
    }
    return [];
  }

  async function* snapshot(signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const ctx = await required("EtcdSnapshot");
    const client = await clients.client(ctx.ca, ctx.spec.clientUrl);
    const stream = (await client.maintenance.snapshot()) as unknown as AsyncIterable<{ blob: Buffer }> & {
      cancel(): void;
    };
    const onAbort = () => stream.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of stream) if (chunk.blob.length > 0) yield new Uint8Array(chunk.blob);
    } catch (err) {
      throw translateEtcdError(err, "take an etcd snapshot");
    } finally {
      signal.removeEventListener("abort", onAbort);
      stream.cancel();
    }
  }

  return {
    async bootstrap() {
      const ctx = await required("Bootstrap");
      const membership = (await state.find(EtcdMembership.ptr(etcdMembershipId)))?.spec;
      if (membership?.initialize) {
        throw new PlinthError(
          "already_exists",
          `Bootstrap: etcd was already bootstrapped on this node (${membership.bootstrappedAt ?? "earlier"}); a cluster is bootstrapped once, on one node`,
        );
      }
      if (await hasEtcdData(ctx.spec.dataDir)) {
        throw new PlinthError(
          "already_exists",
          `Bootstrap: this node is already a member of an etcd cluster (data in ${ctx.spec.dataDir})`,
        );
      }
      for (const url of await candidates(ctx)) {
        const answered = await clients
          .client(ctx.ca, url)
          .then((c) => c.maintenance.status({ deadline: Date.now() + 2000 }))
          .then(() => true)
          .catch(() => false);
        if (answered) {
          throw new PlinthError(
            "already_exists",
            `Bootstrap: an etcd cluster already answers at ${url}: bootstrap runs once per cluster, and the other control planes join it by themselves`,
          );
        }
      }
      await setMembership({ initialize: true, left: false });
      log.warn("bootstrap: this node starts a new etcd cluster");
      return `etcd starts a new cluster with this node (${ctx.spec.name}) as its only member; the other control planes join it`;
    },
    async members() {
      return observe(await required("EtcdMemberList"));
    },
    async status() {
      const ctx = await required("EtcdStatus");
      const client = await clients.client(ctx.ca, ctx.spec.clientUrl);
      return etcdCall(`ask the local etcd member at ${ctx.spec.clientUrl}`, () =>
        client.maintenance.status(),
      );
    },
    snapshot,
    async forfeitLeadership() {
      const ctx = await required("EtcdForfeitLeadership");
      return moveLeadership(ctx, await observe(ctx));
    },
    async leave({ force }) {
      const ctx = await required("EtcdLeaveCluster");
      const warnings = await guard("leave", { force });
      await removeSelf(ctx);
      return warnings;
    },
    async removeMember(idHex) {
      const ctx = await required("EtcdRemoveMember");
      let id: string;
      try {
        id = memberIdFromHex(idHex);
      } catch (err) {
        throw new PlinthError("invalid_argument", `EtcdRemoveMember: ${(err as Error).message}`);
      }
      const view = await observe(ctx);
      const target = view.members.find((m) => memberIdFromHex(m.id) === id);
      if (!target) {
        throw new PlinthError(
          "not_found",
          `EtcdRemoveMember: no etcd member has id ${idHex} (members: ${view.members.map(describeMember).join(", ")})`,
        );
      }
      if (target.peerUrls.includes(ctx.spec.peerUrl)) {
        throw new PlinthError(
          "failed_precondition",
          `EtcdRemoveMember: member ${idHex} is this node: use 'plinth etcd leave' instead`,
        );
      }
      const url = view.members.find((m) => m.healthy && m !== target)?.clientUrls[0] ?? view.via;
      const client = await clients.client(ctx.ca, url);
      await etcdCall(`remove etcd member ${idHex}`, () => client.cluster.memberRemove({ ID: id }));
      log.warn({ member: idHex, name: target.name }, "removed an etcd member");
      // A member gone for good must not keep the others from going through the lock.
      if (target.name) await releaseLifecycleLock(client, target.name).catch(() => false);
      return `removed etcd member ${target.name || "(not started)"} (id ${target.id})`;
    },
    guard,
    async beforeShutdown() {
      const ctx = await context();
      if (!ctx || !supervisor.list().some((s) => s.id === etcdServiceId)) return;
      try {
        await moveLeadership(ctx, await observe(ctx));
      } catch (err) {
        log.warn({ err: (err as Error).message }, "could not move etcd leadership before going down");
      }
    },
    async beforeStop(timeoutMs) {
      const ctx = await context();
      if (!ctx || !supervisor.list().some((s) => s.id === etcdServiceId)) return;
      const work = (async () => {
        const view = await observe(ctx);
        const self = selfOf(ctx, view);
        const decision = quorumGuard({ action: "shutdown", selfId: self?.id, members: view.members });
        if (!decision.allowed) {
          log.warn(
            { member: ctx.spec.name, reason: decision.reason },
            `WARNING: stopping this etcd member leaves the etcd cluster without quorum: ${decision.reason}`,
          );
        }
        await moveLeadership(ctx, view);
      })();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((r) => {
        timer = setTimeout(() => r("late"), timeoutMs);
      });
      try {
        const outcome = await Promise.race([work.then(() => "done" as const), late]);
        if (outcome === "late") log.warn({ timeoutMs }, "gave up moving etcd leadership before stopping");
      } catch (err) {
        log.warn({ err: (err as Error).message }, "could not move etcd leadership before stopping");
      } finally {
        clearTimeout(timer);
      }
      work.catch(() => {});
    },
    async leaveForReset() {
      const ctx = await context();
      if (!ctx || !(await hasEtcdData(ctx.spec.dataDir))) return;
      await removeSelf(ctx);
    },
    async dataDirs() {
      const ctx = await context();
      return ctx ? [ctx.spec.dataDir, ctx.spec.pkiDir] : [];
    },
  };
}

/**
 * A member that left stays stopped until the next boot: then, with its data wiped, it joins
 * again as a new member.
 */
export async function clearEtcdLeft(state: State): Promise<void> {
  const m = await state.find(EtcdMembership.ptr(etcdMembershipId));
  if (!m?.spec.left) return;
  await state.modify(
    EtcdMembership.ptr(etcdMembershipId),
    (d) => {
      d.spec = { ...d.spec, left: false };
    },
    { owner: "agent" },
  );
}
