import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import { DriftStatus, SysctlSpec, SysctlStatus } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { configRevisionInput, type OperatorOptions, requeue } from "../internal/operator-options.ts";

export const sysctlControllerName = "SysctlController";

type Status = SpecOf<typeof SysctlStatus>;

/** The kernel pads some values with tabs (`net.ipv4.tcp_rmem`): compare them word by word. */
const normalize = (v: string) => v.trim().split(/\s+/).join(" ");

/**
 * Sets the kernel parameters the specs ask for and reports each as observed. The value a key had
 * before Plinth first wrote it is kept in its status and written back when the spec goes away.
 * A key that does not exist or a value the kernel refuses is an error in that key's status only.
 */
export function createSysctlController(options: OperatorOptions): Controller {
  const { host } = options;
  return {
    name: sysctlControllerName,
    inputs: [{ namespace: "runtime", type: SysctlSpec.type, kind: "weak" }, configRevisionInput],
    outputs: [
      { type: SysctlStatus.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const drift = await openDriftLog(ctx, { domain: "sysctl", now: options.now });
      const specs = (await ctx.list(SysctlSpec.kind())) as Resource<SpecOf<typeof SysctlSpec>>[];
      const previous = new Map(
        ((await ctx.list(SysctlStatus.kind())) as Resource<Status>[]).map((r) => [r.metadata.id, r.spec]),
      );
      const wanted = new Set(specs.map((s) => s.metadata.id));
      for (const [id, status] of previous) {
        if (wanted.has(id) || status.original === undefined) continue;
        try {
          await host.writeSysctl(status.key, status.original);
          ctx.log.info({ key: status.key, value: status.original }, "sysctl restored");
        } catch (err) {
          ctx.log.warn({ err, key: status.key }, "cannot restore sysctl");
        }
      }

      const out = ctx.track(SysctlStatus.kind());
      // Items are independent: handled together, their status writes share transactions.
      await Promise.all(
        specs.map(async (s) => {
          const { key, value } = s.spec;
          const id = s.metadata.id;
          const before = previous.get(id);
          const specHash = fingerprint(s.spec);
          let observed: string | undefined;
          let original = before?.original;
          let error: string | undefined;
          try {
            observed = await host.readSysctl(key);
            if (observed === undefined) throw new Error(`no such sysctl ${key}`);
            original ??= observed;
            if (normalize(observed) !== normalize(value)) {
              if (before?.specHash === specHash) {
                await drift.detected(id, { item: `sysctl ${key}`, expected: value, found: observed });
              }
              await host.writeSysctl(key, value);
              observed = await host.readSysctl(key);
            }
            await drift.inSync(id);
          } catch (err) {
            error = messageOf(err);
            await drift.repairFailed(id, error);
          }
          const status: Status = compact({
            key,
            value,
            observed,
            original,
            specHash: error ? undefined : specHash,
            error,
          });
          await out.apply(canonical(SysctlStatus, id, status));
        }),
      );
      await out.cleanup();
      return requeue(options);
    },
  };
}
