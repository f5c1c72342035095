import type { SemanticCheck } from "./check-context.ts";

/**
 * A machine config has a MachineConfig and a ClusterConfig (unless partial, as in maintenance
 * mode); a secrets bundle stands alone, so its CA keys never end up in a machine config.
 */
export const checkCompleteness: SemanticCheck = (ctx) => {
  const secrets = ctx.find("MachineSecrets");
  if (secrets) {
    for (const doc of ctx.documents) {
      if (doc.value.kind !== "MachineSecrets") {
        ctx.report(
          doc,
          ["kind"],
          "a MachineSecrets bundle stands alone; keep machine documents in another file",
        );
      }
    }
    return;
  }
  if (ctx.partial) return;
  for (const kind of ["MachineConfig", "ClusterConfig"] as const) {
    if (!ctx.find(kind))
      ctx.report(undefined, [], `missing a ${kind} document; a complete machine config needs one`);
  }
};
