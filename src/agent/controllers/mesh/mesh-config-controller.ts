import type { ValidationMode } from "../../../config/checks/check-context.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { meshSpecFromConfig } from "../../mesh/mesh-spec.ts";
import { parsedConfig } from "../../parsed-config.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/machine-config.ts";
import { MeshSpec, meshSpecId } from "../../resources/mesh.ts";

/** The `Mesh` and `ClusterConfig` documents → MeshSpec; none without a `Mesh` document. */
export function createMeshConfigController(options: { readonly mode: ValidationMode }): Controller {
  return {
    name: "MeshConfigController",
    inputs: [{ namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" }],
    outputs: [{ type: MeshSpec.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const specs = ctx.track(MeshSpec.kind());
      const record = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      const spec = record?.spec.complete
        ? meshSpecFromConfig(parsedConfig(record.spec.yaml, options.mode))
        : undefined;
      if (spec) await specs.apply(MeshSpec.make(meshSpecId, spec));
      await specs.cleanup();
    },
  };
}
