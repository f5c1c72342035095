import type { ControllerContext } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { Diagnostic } from "../../resources/index.ts";

export type DiagnosticSpec = SpecOf<typeof Diagnostic>;

/**
 * Writes the diagnostics a controller found in this reconcile and removes the ones it wrote
 * before and no longer finds (each controller owns its own; the type is shared).
 */
export async function reportDiagnostics(
  ctx: ControllerContext,
  found: ReadonlyMap<string, DiagnosticSpec>,
): Promise<void> {
  const out = ctx.track(Diagnostic.kind());
  // apply() writes only what changed: an unchanged diagnostic keeps its version.
  for (const [id, spec] of found) await out.apply(Diagnostic.make(id, spec));
  await out.cleanup();
}
