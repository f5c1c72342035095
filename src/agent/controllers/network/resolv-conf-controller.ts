import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import {
  DriftStatus,
  EtcFileStatus,
  ResolverSpec,
  resolvConfId,
  resolverSpecId,
} from "../../resources/index.ts";
import { reconcileManagedFile } from "../internal/managed-file.ts";
import { configRevisionInput, type OperatorOptions, requeue } from "../internal/operator-options.ts";

export const resolvConfControllerName = "ResolvConfController";

/**
 * Keeps the ResolverSpec's name servers and search domains in a managed block at the top of
 * /etc/resolv.conf, so they come before any the user keeps below. Without a spec the block is
 * removed. A symbolic link there (systemd-resolved's stub) is replaced by a file: the agent owns
 * name resolution.
 */
export function createResolvConfController(options: OperatorOptions): Controller {
  return {
    name: resolvConfControllerName,
    inputs: [
      { namespace: "network", type: ResolverSpec.type, id: resolverSpecId, kind: "weak" },
      configRevisionInput,
    ],
    outputs: [
      { type: EtcFileStatus.type, kind: "shared" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const spec = (await ctx.find(ResolverSpec.ptr(resolverSpecId)))?.spec as
        | SpecOf<typeof ResolverSpec>
        | undefined;
      await reconcileManagedFile(ctx, {
        host: options.host,
        path: "/etc/resolv.conf",
        id: resolvConfId,
        lines: spec
          ? [
              ...spec.nameservers.map((n) => `nameserver ${n}`),
              ...(spec.searchDomains.length > 0 ? [`search ${spec.searchDomains.join(" ")}`] : []),
            ]
          : undefined,
        why: "from the Resolvers document, changes inside are undone",
        ...(options.now ? { now: options.now } : {}),
      });
      return requeue(options);
    },
  };
}
