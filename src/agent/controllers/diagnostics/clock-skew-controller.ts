import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { ClockOffset } from "../../etcd/clock-offset.ts";
import type { EtcdRootSecretContent } from "../../etcd/etcd-spec.ts";
import {
  Diagnostic,
  EtcdMember,
  EtcdRootSecret,
  EtcdSpec,
  etcdRootSecretId,
  etcdSpecId,
} from "../../resources/index.ts";
import { type DiagnosticSpec, reportDiagnostics } from "./report-diagnostics.ts";

export interface ClockSkewControllerOptions {
  /** How far the etcd member at `clientUrl` is ahead of this machine (bounds), ms. */
  readonly measure: (
    clientUrl: string,
    ca: EtcdRootSecretContent,
    signal: AbortSignal,
  ) => Promise<ClockOffset>;
  /** Default 2 s: etcd's leases and the lifecycle lock tolerate a little, not much more. */
  readonly thresholdMs?: number;
  /** Default 30 s. */
  readonly intervalMs?: number;
}

/**
 * On a control plane: compares this machine's clock with the etcd leader's (with another
 * healthy voting member's when this one leads), and reports a skew beyond the threshold.
 * Only a skew certain beyond the measurement's error (a second, plus the round trip) counts.
 */
export function createClockSkewController(options: ClockSkewControllerOptions): Controller {
  const thresholdMs = options.thresholdMs ?? 2000;
  const intervalMs = options.intervalMs ?? 30_000;
  return {
    name: "ClockSkewController",
    inputs: [
      { namespace: "etcd", type: EtcdSpec.type, id: etcdSpecId, kind: "weak" },
      { namespace: "secrets", type: EtcdRootSecret.type, id: etcdRootSecretId, kind: "weak" },
      { namespace: "etcd", type: EtcdMember.type, kind: "weak" },
    ],
    outputs: [{ type: Diagnostic.type, kind: "shared" }],
    async reconcile(ctx) {
      const found = new Map<string, DiagnosticSpec>();
      const spec = (await ctx.find(EtcdSpec.ptr(etcdSpecId)))?.spec;
      const ca = (await ctx.find(EtcdRootSecret.ptr(etcdRootSecretId)))?.spec;
      const members = (await ctx.list(EtcdMember.kind())).map((r) => r.spec as SpecOf<typeof EtcdMember>);
      const others = members.filter(
        (m) =>
          m.healthy && !m.isLearner && m.clientUrls.length > 0 && !m.peerUrls.includes(spec?.peerUrl ?? ""),
      );
      const reference = others.find((m) => m.isLeader) ?? others[0];
      if (!spec || !ca || !reference) {
        await reportDiagnostics(ctx, found);
        return;
      }
      const url = reference.clientUrls[0]!;
      let offset: ClockOffset | undefined;
      try {
        offset = await options.measure(url, ca, AbortSignal.any([ctx.signal, AbortSignal.timeout(3000)]));
      } catch (err) {
        // Unknown is not skewed: keep what was reported, try again soon.
        ctx.log.debug({ err: (err as Error).message, url }, "cannot measure the clock offset");
        return { requeueAfterMs: intervalMs };
      }
      const ahead = offset.minMs > thresholdMs;
      const behind = offset.maxMs < -thresholdMs;
      if (ahead || behind) {
        const by = ahead ? offset.minMs : -offset.maxMs;
        const who = `${reference.name}${reference.isLeader ? ", the etcd leader" : ""}`;
        found.set("clock-skew", {
          severity: "warning",
          message: `this machine's clock is ${(by / 1000).toFixed(1)} s or more ${ahead ? "behind" : "ahead of"} ${who}`,
          details: [
            `compared with ${url} (HTTP Date header)`,
            `peer minus local: ${offset.minMs} to ${offset.maxMs} ms`,
            `threshold: ${thresholdMs} ms`,
          ],
        });
      }
      await reportDiagnostics(ctx, found);
      return { requeueAfterMs: intervalMs };
    },
  };
}
