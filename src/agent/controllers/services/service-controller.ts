import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { ServiceSpec, ServiceStatusResource } from "../../resources/index.ts";
import type { ServiceDefinition } from "../../services/service-types.ts";
import type { Supervisor } from "../../services/supervisor.ts";

export const serviceControllerName = "ServiceController";

export interface ServiceControllerOptions {
  readonly supervisor: Supervisor;
  /** Services an operator stopped by hand (`plinth service X stop`): left stopped until started. */
  readonly stoppedByUser: ReadonlySet<string>;
}

/**
 * Runs the services the specs ask for and reports what they do. The supervisor tells the
 * runtime (trigger) when a process changes state, so statuses follow without polling.
 */
export function createServiceController(options: ServiceControllerOptions): Controller {
  const { supervisor } = options;
  const managed = new Set<string>();
  return {
    name: serviceControllerName,
    inputs: [{ namespace: "runtime", type: ServiceSpec.type, kind: "weak" }],
    outputs: [{ type: ServiceStatusResource.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const specs = await ctx.list(ServiceSpec.kind());
      const wanted = new Set(specs.map((s) => s.metadata.id));
      for (const id of managed) {
        if (!wanted.has(id)) {
          await supervisor.remove(id);
          managed.delete(id);
        }
      }
      for (const s of specs) {
        const spec = s.spec as SpecOf<typeof ServiceSpec>;
        const def: ServiceDefinition = {
          id: s.metadata.id,
          command: spec.command,
          args: spec.args,
          env: spec.env,
          ...(spec.workingDir ? { cwd: spec.workingDir } : {}),
          restart: spec.restart,
          dependsOn: spec.dependsOn,
          ...(spec.health ? { health: spec.health } : {}),
        };
        const known = managed.has(def.id);
        const changed = known && JSON.stringify(supervisor.definition(def.id)) !== JSON.stringify(def);
        supervisor.add(def);
        managed.add(def.id);
        if (changed) await supervisor.restart(def.id);
        else if (!known && !options.stoppedByUser.has(def.id)) supervisor.start(def.id);
      }
      const out = ctx.track(ServiceStatusResource.kind());
      for (const st of supervisor.list()) {
        await out.apply(
          ServiceStatusResource.make(st.id, {
            state: st.state,
            ...(st.healthy !== undefined ? { healthy: st.healthy } : {}),
            ...(st.pid !== undefined ? { pid: st.pid } : {}),
            restarts: st.restarts,
            message: st.message,
            ...(st.lastExit ? { lastExitCode: st.lastExit.code } : {}),
          }),
        );
      }
      await out.cleanup();
    },
  };
}
