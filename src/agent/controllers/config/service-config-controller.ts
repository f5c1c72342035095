import type { ValidationMode } from "../../../config/checks/check-context.ts";
import { parseDuration } from "../../../config/duration.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { parsedConfig } from "../../parsed-config.ts";
import { MachineConfigResource, machineConfigId, ServiceSpec } from "../../resources/index.ts";

/** Config `Service` documents → ServiceSpec resources, one per service name. */
export function createServiceConfigController(options: { mode: ValidationMode }): Controller {
  return {
    name: "ServiceConfigController",
    inputs: [{ namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" }],
    // Shared: the etcd controller declares the built-in etcd service beside these.
    outputs: [{ type: ServiceSpec.type, kind: "shared" }],
    async reconcile(ctx) {
      const out = ctx.track(ServiceSpec.kind());
      const config = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      if (config) {
        for (const doc of parsedConfig(config.spec.yaml, options.mode).all("Service")) {
          const hc = doc.healthCheck;
          await out.apply(
            ServiceSpec.make(doc.name, {
              command: doc.command,
              args: doc.args,
              env: doc.env,
              ...(doc.workingDir ? { workingDir: doc.workingDir } : {}),
              restart: doc.restart,
              dependsOn: doc.dependsOn,
              ...(hc
                ? {
                    health: {
                      ...(hc.command ? { exec: hc.command } : {}),
                      ...(hc.tcp ? { tcp: hc.tcp } : {}),
                      intervalMs: parseDuration(hc.interval) ?? 10_000,
                      timeoutMs: parseDuration(hc.timeout) ?? 1000,
                    },
                  }
                : {}),
            }),
          );
        }
      }
      await out.cleanup();
    },
  };
}
