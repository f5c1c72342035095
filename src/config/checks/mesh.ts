import type { SemanticCheck } from "./check-context.ts";

/** The mesh learns its peers from discovery, so an enabled mesh needs enabled discovery. */
export const checkMesh: SemanticCheck = (ctx) => {
  const mesh = ctx.find("Mesh");
  if (!mesh?.value.enabled) return;
  const discovery = ctx.find("Discovery");
  if (!discovery?.value.enabled) {
    ctx.report(
      mesh,
      ["enabled"],
      "an enabled mesh needs an enabled Discovery document: peers come from discovery",
    );
  }
};
