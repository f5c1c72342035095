import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SystemSample } from "../../host/system-sample.ts";
import { SystemResources, systemResourcesId } from "../../resources/index.ts";

export interface SystemResourcesControllerOptions {
  /** The directory whose file system must keep room (the state dir). */
  readonly diskPath: string;
  readonly sample: (dir: string) => Promise<SystemSample>;
  /** Default 5 s. */
  readonly intervalMs?: number;
}

/**
 * Reports free memory and free disk as SystemResources, for health checks and the low-resources
 * diagnostic. Updated only when a value moved by more than 1 MiB, so that watchers are not
 * woken for noise.
 */
export function createSystemResourcesController(options: SystemResourcesControllerOptions): Controller {
  const intervalMs = options.intervalMs ?? 5000;
  return {
    name: "SystemResourcesController",
    inputs: [],
    outputs: [{ type: SystemResources.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const s = await options.sample(options.diskPath);
      const current = (await ctx.find(SystemResources.ptr(systemResourcesId)))?.spec;
      const moved = (a: number, b: number | undefined) => b === undefined || Math.abs(a - b) > 1024 * 1024;
      if (
        !current ||
        moved(s.memoryAvailableBytes, current.memoryAvailableBytes) ||
        moved(s.diskAvailableBytes, current.diskAvailableBytes) ||
        current.diskPath !== options.diskPath
      ) {
        await ctx
          .track(SystemResources.kind())
          .apply(SystemResources.make(systemResourcesId, { ...s, diskPath: options.diskPath }));
      }
      return { requeueAfterMs: intervalMs };
    },
  };
}
