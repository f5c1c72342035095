import { hostname, networkInterfaces } from "node:os";
import type { ValidationMode } from "../../../config/checks/check-context.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { etcdSpecFromConfig } from "../../etcd/etcd-spec.ts";
import { parsedConfig } from "../../parsed-config.ts";
import {
  EtcdRootSecret,
  EtcdSpec,
  etcdRootSecretId,
  etcdSpecId,
  MachineConfigResource,
  machineConfigId,
} from "../../resources/index.ts";

export interface EtcdConfigControllerOptions {
  readonly mode: ValidationMode;
  readonly stateDir: string;
  /** The agent's --listen host, which wins over MachineConfig.api.listenAddress. */
  readonly listenHost?: string;
}

/** A control plane's config → EtcdSpec (how to run etcd) and EtcdRootSecret (the etcd CA). */
export function createEtcdConfigController(options: EtcdConfigControllerOptions): Controller {
  return {
    name: "EtcdConfigController",
    inputs: [{ namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" }],
    outputs: [
      { type: EtcdSpec.type, kind: "exclusive" },
      { type: EtcdRootSecret.type, kind: "exclusive" },
    ],
    async reconcile(ctx) {
      const specs = ctx.track(EtcdSpec.kind());
      const secrets = ctx.track(EtcdRootSecret.kind());
      const config = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      const result =
        config?.spec.complete === true
          ? etcdSpecFromConfig(parsedConfig(config.spec.yaml, options.mode), {
              ...(options.listenHost !== undefined ? { listenHost: options.listenHost } : {}),
              interfaces: networkInterfaces(),
              hostname: hostname(),
              stateDir: options.stateDir,
              useConfigDataDir: options.mode === "host" && process.getuid?.() === 0,
            })
          : undefined;
      if (result) {
        await secrets.apply(EtcdRootSecret.make(etcdRootSecretId, result.rootSecret));
        await specs.apply(EtcdSpec.make(etcdSpecId, result.spec));
      }
      await specs.cleanup();
      await secrets.cleanup();
    },
  };
}
