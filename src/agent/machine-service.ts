import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { identityKey } from "../api/auth/identity.ts";
import {
  ApplyMode,
  type HealthCheckRequest,
  type MachineService,
  ResourceChangeAction,
} from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import type { HealthProgress } from "../health/health-progress.ts";
import type { UpgradeAccepted, UpgradeRequest } from "./agent-upgrades.ts";
import type { ApplyRequest, ApplyResult, ConfigApplier } from "./config-applier.ts";
import { memberIdHex } from "./etcd/etcd-clients.ts";
import type { EtcdOperations } from "./etcd/etcd-operations.ts";
import type { ApplyModeName, ConfigRecord } from "./resources/index.ts";
import type { LogBuffer } from "./services/log-buffer.ts";
import type { Supervisor } from "./services/supervisor.ts";

/** What the machine service asks of the agent that hosts it. */
export interface MachineOperations {
  readonly applier: ConfigApplier;
  readonly supervisor: Supervisor;
  /** Services stopped by hand stay stopped until started by hand. */
  readonly stoppedByUser: Set<string>;
  /** The agent's own log, served as the logs of service `agent`. */
  readonly agentLog: LogBuffer;
  readonly version: { readonly tag: string; readonly built?: Date };
  isMaintenance(): boolean;
  /** Service state changed by hand: refresh the statuses. */
  servicesChanged(): void;
  /**
   * Checked (etcd quorum guard) before the reply, carried out after it is sent. Returns warnings
   * for the reply (a check skipped with `force`).
   */
  reboot(options: { force: boolean }): Promise<string[]>;
  reset(options: { graceful: boolean; reboot: boolean; force: boolean }): Promise<string[]>;
  /** Like reboot, but the machine stays down (on a host Plinth does not own: the agent exits). */
  shutdown(options: { force: boolean }): Promise<string[]>;
  /** Runs the cluster health checks from this node, as the caller (whose certificate it passes on). */
  healthCheck(
    request: HealthCheckRequest,
    caller: Uint8Array,
    signal: AbortSignal,
  ): AsyncIterable<HealthProgress>;
  /** This node's etcd (control planes). */
  readonly etcd: EtcdOperations;
  /** Verified, guarded and installed before the reply; the agent restarts after it (unless staged). */
  upgrade(request: UpgradeRequest): Promise<UpgradeAccepted>;
  history(limit: number): Promise<ConfigRecord[]>;
  issueClientConfig(options: { roles: readonly string[]; name: string; ttlMs: number }): Promise<string>;
}

const wireModes: Record<ApplyRequest["mode"], ApplyMode> = {
  auto: ApplyMode.AUTO,
  no_reboot: ApplyMode.NO_REBOOT,
  staged: ApplyMode.STAGED,
  try: ApplyMode.TRY,
};

function modeFromWire(mode: ApplyMode): ApplyRequest["mode"] {
  for (const [name, value] of Object.entries(wireModes))
    if (value === mode) return name as ApplyRequest["mode"];
  if (mode === ApplyMode.UNSPECIFIED) return "auto";
  if (mode === ApplyMode.REBOOT) {
    throw new PlinthError(
      "invalid_argument",
      "ApplyConfiguration: mode REBOOT only appears in replies; ask for AUTO, which restarts the agent when a change needs it",
    );
  }
  throw new PlinthError("invalid_argument", `ApplyConfiguration: unknown mode ${mode}`);
}

function modeToWire(mode: ApplyModeName): ApplyMode {
  return mode === "startup" ? ApplyMode.UNSPECIFIED : wireModes[mode];
}

const wireActions = {
  create: ResourceChangeAction.CREATE,
  update: ResourceChangeAction.UPDATE,
  destroy: ResourceChangeAction.DESTROY,
} as const;

/** The fields ApplyConfiguration and ConfigRollback replies share. */
function resultToWire(result: ApplyResult) {
  return {
    mode: result.mode === "reboot" ? ApplyMode.REBOOT : wireModes[result.mode],
    modeDetails: result.details,
    warnings: [...result.warnings],
    diff: result.diff,
    resourceChanges: result.resourceChanges.map((c) => ({
      namespace: c.namespace,
      type: c.type,
      id: c.id,
      action: wireActions[c.action],
    })),
    version: BigInt(result.record?.revision ?? 0),
    restartFields: [...result.restartFields],
  };
}

function durationMs(d: { seconds: bigint; nanos: number } | undefined): number | undefined {
  return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : undefined;
}

function caller(ctx: HandlerContext): string {
  const id = ctx.values.get(identityKey);
  return id.kind === "certificate" ? id.subject : "maintenance (no client certificate)";
}

const userServiceIds = (ops: MachineOperations) => new Set(ops.supervisor.list().map((s) => s.id));

function requireService(ops: MachineOperations, id: string, rpc: string): void {
  if (id === "") throw new PlinthError("invalid_argument", `${rpc}: 'id' must name a service`);
  if (!userServiceIds(ops).has(id)) {
    throw new PlinthError("not_found", `${rpc}: service '${id}' does not exist on this machine`);
  }
}

const encoder = new TextEncoder();

export function createMachineService(ops: MachineOperations): ServiceImpl<typeof MachineService> {
  return {
    async applyConfiguration(req, ctx) {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(req.data);
      const tryTimeoutMs = durationMs(req.tryTimeout);
      const result = await ops.applier.apply({
        yaml: text,
        mode: modeFromWire(req.mode),
        dryRun: req.dryRun,
        appliedBy: caller(ctx),
        ...(tryTimeoutMs !== undefined ? { tryTimeoutMs } : {}),
      });
      return { messages: [resultToWire(result)] };
    },
    async confirmConfiguration() {
      const { revision, details } = await ops.applier.confirm();
      return { messages: [{ version: BigInt(revision), response: details }] };
    },
    async configRollback(req, ctx) {
      const result = await ops.applier.rollback({
        version: Number(req.version),
        dryRun: req.dryRun,
        appliedBy: caller(ctx),
      });
      return { messages: [resultToWire(result)] };
    },
    version() {
      return {
        messages: [
          {
            version: {
              tag: ops.version.tag,
              runtimeVersion: process.versions.node,
              os: process.platform,
              arch: process.arch,
              ...(ops.version.built ? { built: timestampFromDate(ops.version.built) } : {}),
            },
            maintenance: ops.isMaintenance(),
          },
        ],
      };
    },
    serviceList() {
      const services = ops.supervisor.list().map((s) => ({
        id: s.id,
        state: s.state,
        health: { unknown: s.healthy === undefined, healthy: s.healthy ?? false, lastMessage: s.message },
        events: [{ message: s.message, state: s.state }],
      }));
      return { messages: [{ services }] };
    },
    serviceStart(req) {
      requireService(ops, req.id, "ServiceStart");
      ops.stoppedByUser.delete(req.id);
      ops.supervisor.start(req.id);
      ops.servicesChanged();
      return { messages: [{ response: `service ${req.id} started` }] };
    },
    async serviceStop(req) {
      requireService(ops, req.id, "ServiceStop");
      ops.stoppedByUser.add(req.id);
      await ops.supervisor.stop(req.id);
      ops.servicesChanged();
      return { messages: [{ response: `service ${req.id} stopped` }] };
    },
    async serviceRestart(req) {
      requireService(ops, req.id, "ServiceRestart");
      ops.stoppedByUser.delete(req.id);
      await ops.supervisor.restart(req.id);
      ops.servicesChanged();
      return { messages: [{ response: `service ${req.id} restarted` }] };
    },
    async *logs(req, ctx) {
      if (req.tailLines < -1) {
        throw new PlinthError(
          "invalid_argument",
          `Logs: 'tail_lines' must be -1 or more, current value is ${req.tailLines}`,
        );
      }
      const tail =
        req.tailLines === -1 ? undefined : req.tailLines === 0 && !req.follow ? undefined : req.tailLines;
      const options = { tail, follow: req.follow, signal: ctx.signal };
      let lines: AsyncIterable<string>;
      if (req.id === "agent") lines = ops.agentLog.read(options);
      else {
        requireService(ops, req.id, "Logs");
        lines = ops.supervisor.logs(req.id, options);
      }
      for await (const line of lines) yield { data: encoder.encode(`${line}\n`) };
    },
    async reboot(req) {
      const warnings = await ops.reboot({ force: req.force });
      return { messages: [{ actorId: `reboot-${Date.now()}`, warnings }] };
    },
    async reset(req) {
      const warnings = await ops.reset({ graceful: req.graceful, reboot: req.reboot, force: req.force });
      return { messages: [{ actorId: `reset-${Date.now()}`, warnings }] };
    },
    async shutdown(req) {
      const warnings = await ops.shutdown({ force: req.force });
      return { messages: [{ actorId: `shutdown-${Date.now()}`, warnings }] };
    },
    async *healthCheck(req, ctx) {
      const id = ctx.values.get(identityKey);
      if (id.kind !== "certificate") {
        throw new PlinthError("unauthenticated", "HealthCheck: the call carries no client certificate");
      }
      for await (const p of ops.healthCheck(req, id.certificate, ctx.signal)) yield p;
    },
    async upgrade(req) {
      const timeoutMs = durationMs(req.timeout);
      const accepted = await ops.upgrade({
        bundle: req.bundle,
        stage: req.stage,
        force: req.force,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
      return { messages: [accepted] };
    },
    async configHistory(req) {
      const entries = (await ops.history(req.limit)).map((r) => ({
        version: BigInt(r.revision),
        applied: timestampFromDate(new Date(r.appliedAt)),
        mode: modeToWire(r.mode),
        appliedBy: r.appliedBy,
        data: encoder.encode(r.yaml),
        note: r.note ?? "",
      }));
      return { messages: [{ entries }] };
    },
    async issueClientConfig(req) {
      const ttlMs = durationMs(req.ttl) ?? 365 * 24 * 3600 * 1000;
      const text = await ops.issueClientConfig({ roles: req.roles, name: req.name, ttlMs });
      return { messages: [{ clientConfig: encoder.encode(text) }] };
    },
    async bootstrap() {
      return { messages: [{ response: await ops.etcd.bootstrap() }] };
    },
    async etcdMemberList() {
      const view = await ops.etcd.members();
      const members = view.members.map((m) => ({
        id: m.id,
        name: m.name,
        peerUrls: [...m.peerUrls],
        clientUrls: [...m.clientUrls],
        isLearner: m.isLearner,
        isLeader: m.isLeader,
        healthy: m.healthy,
        error: m.error ?? "",
      }));
      return { messages: [{ members }] };
    },
    async etcdStatus() {
      const s = await ops.etcd.status();
      return {
        messages: [
          {
            memberStatus: {
              memberId: memberIdHex(s.header.member_id),
              leader: s.leader === "0" ? "" : memberIdHex(s.leader),
              version: s.version,
              dbSize: BigInt(s.dbSize),
              dbSizeInUse: BigInt(s.dbSizeInUse ?? 0),
              raftIndex: BigInt(s.raftIndex),
              raftTerm: BigInt(s.raftTerm),
              raftAppliedIndex: BigInt(s.raftAppliedIndex ?? 0),
              isLearner: !!s.isLearner,
              errors: [...s.errors],
            },
          },
        ],
      };
    },
    async *etcdSnapshot(_req, ctx) {
      for await (const data of ops.etcd.snapshot(ctx.signal)) yield { data };
    },
    async etcdForfeitLeadership() {
      return { messages: [{ member: await ops.etcd.forfeitLeadership() }] };
    },
    async etcdLeaveCluster(req) {
      return { messages: [{ warnings: await ops.etcd.leave({ force: req.force }) }] };
    },
    async etcdRemoveMember(req) {
      return { messages: [{ response: await ops.etcd.removeMember(req.memberId) }] };
    },
  };
}
