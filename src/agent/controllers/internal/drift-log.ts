import type { ControllerContext } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import { DriftStatus, MachineConfigResource, machineConfigId } from "../../resources/index.ts";

type Drift = SpecOf<typeof DriftStatus>;

export interface DriftFinding {
  /** The item in words: `sysctl net.ipv4.ip_forward`. */
  readonly item: string;
  readonly expected: string;
  readonly found: string;
}

/** The DriftStatus entries of one controller during one reconcile. */
export interface DriftLog {
  /** The config revision the report covers. */
  readonly revision: number;
  /** An item that matched its spec before now differs; call before repairing it. */
  detected(key: string, finding: DriftFinding): Promise<void>;
  /** The item matches its spec: marks a pending entry repaired. */
  inSync(key: string): Promise<void>;
  /** Repairing the item failed: noted on a pending entry. */
  repairFailed(key: string, error: string): Promise<void>;
}

/**
 * Opens the drift report of `ctx`'s controller for items of `domain` (ids `<domain>:<key>`), and
 * drops the controller's entries from before the current config revision: the report covers the
 * time since the last apply. The controller must declare DriftStatus a shared output and the
 * MachineConfig an input.
 */
export async function openDriftLog(
  ctx: ControllerContext,
  options: { readonly domain: string; readonly now?: () => Date },
): Promise<DriftLog> {
  const now = () => (options.now ?? (() => new Date()))().toISOString();
  const config = await ctx.find(MachineConfigResource.ptr(machineConfigId));
  const revision = config?.spec.revision ?? 0;
  const entries = new Map<string, Resource<Drift>>();
  for (const r of (await ctx.list(DriftStatus.kind())) as Resource<Drift>[]) {
    if (r.metadata.owner !== ctx.name) continue;
    if (r.spec.configRevision === revision && r.metadata.phase === "running") {
      entries.set(r.metadata.id, r);
      continue;
    }
    const ptr = DriftStatus.ptr(r.metadata.id);
    if (await ctx.teardown(ptr)) await ctx.destroy(ptr);
  }
  const idOf = (key: string) => `${options.domain}:${key}`;

  async function write(id: string, drift: Drift): Promise<void> {
    const spec = DriftStatus.schema.parse(drift);
    const stored = await ctx.upsert(
      DriftStatus.ptr(id),
      (d) => {
        d.spec = spec;
      },
      { initial: () => spec },
    );
    entries.set(id, stored);
  }

  function pending(id: string): Drift | undefined {
    const e = entries.get(id)?.spec;
    return e && e.repairedAt === undefined ? e : undefined;
  }

  return {
    revision,
    async detected(key, finding) {
      const id = idOf(key);
      const at = now();
      const previous = entries.get(id)?.spec;
      await write(id, {
        controller: ctx.name,
        item: finding.item,
        expected: finding.expected,
        found: finding.found,
        firstDetected: previous?.firstDetected ?? at,
        lastDetected: at,
        count: (previous?.count ?? 0) + 1,
        configRevision: revision,
      });
      ctx.log.warn({ item: finding.item, expected: finding.expected, found: finding.found }, "drift");
    },
    async inSync(key) {
      const id = idOf(key);
      const e = pending(id);
      if (!e) return;
      const { repairError: _, ...rest } = e;
      await write(id, { ...rest, repairedAt: now() });
    },
    async repairFailed(key, error) {
      const id = idOf(key);
      const e = pending(id);
      if (e && e.repairError !== error) await write(id, { ...e, repairError: error });
    },
  };
}
