import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { DriftStatus, EtcFileStatus, etcHostsId, StaticHostSpec } from "../../resources/index.ts";
import { reconcileManagedFile } from "../internal/managed-file.ts";
import { configRevisionInput, type OperatorOptions, requeue } from "../internal/operator-options.ts";

export const etcHostsControllerName = "EtcHostsController";

/**
 * Keeps the StaticHostSpec entries in a managed block of /etc/hosts; the user's lines around it
 * stay. Without specs the block is removed.
 */
export function createEtcHostsController(options: OperatorOptions): Controller {
  return {
    name: etcHostsControllerName,
    inputs: [{ namespace: "network", type: StaticHostSpec.type, kind: "weak" }, configRevisionInput],
    outputs: [
      { type: EtcFileStatus.type, kind: "shared" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const specs = (await ctx.list(StaticHostSpec.kind())).map(
        (r) => r.spec as SpecOf<typeof StaticHostSpec>,
      );
      await reconcileManagedFile(ctx, {
        host: options.host,
        path: "/etc/hosts",
        id: etcHostsId,
        lines: specs.length > 0 ? specs.map((s) => `${s.ip} ${s.aliases.join(" ")}`) : undefined,
        why: "entries of the StaticHosts document, changes inside are undone",
        ...(options.now ? { now: options.now } : {}),
      });
      return requeue(options);
    },
  };
}
