import { defaultMinimums, formatBytes, type ResourceMinimums } from "../../../health/minimums.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { Diagnostic, SystemResources, systemResourcesId } from "../../resources/index.ts";
import { type DiagnosticSpec, reportDiagnostics } from "./report-diagnostics.ts";

/** Reports free memory or free disk (of the state dir) below the minimums. */
export function createLowResourcesController(minimums: ResourceMinimums = defaultMinimums): Controller {
  return {
    name: "LowResourcesController",
    inputs: [{ namespace: "runtime", type: SystemResources.type, id: systemResourcesId, kind: "weak" }],
    outputs: [{ type: Diagnostic.type, kind: "shared" }],
    async reconcile(ctx) {
      const found = new Map<string, DiagnosticSpec>();
      const s = (await ctx.find(SystemResources.ptr(systemResourcesId)))?.spec;
      if (s && s.memoryAvailableBytes < minimums.memoryBytes) {
        found.set("low-memory", {
          severity: "error",
          message: `${formatBytes(s.memoryAvailableBytes)} of memory available, below the minimum of ${formatBytes(minimums.memoryBytes)}`,
          details: [`total memory: ${formatBytes(s.memoryTotalBytes)}`],
        });
      }
      if (s && s.diskAvailableBytes < minimums.diskBytes) {
        found.set("low-disk", {
          severity: "error",
          message: `${formatBytes(s.diskAvailableBytes)} free on the file system of ${s.diskPath}, below the minimum of ${formatBytes(minimums.diskBytes)}`,
          details: [`file system size: ${formatBytes(s.diskTotalBytes)}`],
        });
      }
      await reportDiagnostics(ctx, found);
    },
  };
}
