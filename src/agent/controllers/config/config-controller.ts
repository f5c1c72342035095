import type { ValidationMode } from "../../../config/checks/check-context.ts";
import type { ConfigBundle } from "../../../config/config-bundle.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import type { ResourceDefinition } from "../../../runtime/resource/definition.ts";
import { parsedConfig } from "../../parsed-config.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";

export interface ConfigControllerOptions {
  readonly mode: ValidationMode;
}

/** One spec resource to produce: its id and spec. */
export type SpecEntry<S> = readonly [id: string, spec: S];

/**
 * The shape of every config controller: a pure function from the stored config to the spec
 * resources of one type. Specs the config no longer yields are torn down.
 */
export function createConfigController<S>(
  name: string,
  options: ConfigControllerOptions & {
    readonly output: ResourceDefinition<S>;
    readonly specs: (config: ConfigBundle) => Iterable<SpecEntry<S>>;
  },
): Controller {
  const { output } = options;
  return {
    name,
    inputs: [{ namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" }],
    outputs: [{ type: output.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const out = ctx.track(output.kind());
      const config = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      if (config) {
        for (const [id, spec] of options.specs(parsedConfig(config.spec.yaml, options.mode))) {
          await out.apply(canonical(output, id, spec));
        }
      }
      await out.cleanup();
    },
  };
}
