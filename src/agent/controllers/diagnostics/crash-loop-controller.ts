import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { Diagnostic, ServiceStatusResource } from "../../resources/index.ts";
import { type DiagnosticSpec, reportDiagnostics } from "./report-diagnostics.ts";

export interface CrashLoopControllerOptions {
  /** Restarts within the window that make a crash loop; default 3. */
  readonly restarts?: number;
  /** Default 5 min: at the supervisor's 30 s ceiling of backoff a looping service still restarts 10 times. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

/**
 * Reports a service that keeps restarting: ServiceStatus `restarts` went up `restarts` times or
 * more within the window. The report goes once the window holds fewer restarts.
 */
export function createCrashLoopController(options: CrashLoopControllerOptions = {}): Controller {
  const threshold = options.restarts ?? 3;
  const windowMs = options.windowMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  /** Per service: the restart count last seen, and when each new restart was seen. */
  const seen = new Map<string, { count: number; at: number[] }>();
  return {
    name: "CrashLoopController",
    inputs: [{ namespace: "runtime", type: ServiceStatusResource.type, kind: "weak" }],
    outputs: [{ type: Diagnostic.type, kind: "shared" }],
    async reconcile(ctx) {
      const t = now();
      const found = new Map<string, DiagnosticSpec>();
      const present = new Set<string>();
      let nextExpiry = Number.POSITIVE_INFINITY;
      for (const r of await ctx.list(ServiceStatusResource.kind())) {
        const s = r.spec as SpecOf<typeof ServiceStatusResource>;
        const id = r.metadata.id;
        present.add(id);
        const entry = seen.get(id) ?? { count: s.restarts, at: [] };
        // A lower count is a new supervisor (agent restart): start counting again from it.
        if (s.restarts > entry.count) for (let i = entry.count; i < s.restarts; i++) entry.at.push(t);
        entry.count = s.restarts;
        entry.at = entry.at.filter((x) => x > t - windowMs);
        seen.set(id, entry);
        if (entry.at.length > 0) nextExpiry = Math.min(nextExpiry, entry.at[0]! + windowMs);
        if (entry.at.length >= threshold) {
          found.set(`service-crash-loop-${id}`, {
            severity: "error",
            message: `service ${id} is crash-looping: ${entry.at.length} restarts in the last ${Math.round(windowMs / 1000)} s`,
            details: [
              `state: ${s.state}`,
              ...(s.lastExitCode !== undefined && s.lastExitCode !== null
                ? [`last exit code: ${s.lastExitCode}`]
                : []),
              ...(s.message ? [`last message: ${s.message}`] : []),
            ],
          });
        }
      }
      for (const id of seen.keys()) if (!present.has(id)) seen.delete(id);
      await reportDiagnostics(ctx, found);
      return Number.isFinite(nextExpiry) ? { requeueAfterMs: Math.max(100, nextExpiry - t + 1) } : undefined;
    },
  };
}
