import { z } from "zod";
import { defineResource } from "../../resource/definition.ts";
import { createRegistry } from "../../resource/registry.ts";
import { createMemoryState } from "../../state/backends/memory/memory-state.ts";
import type { State } from "../../state/state.ts";
import { wrapCore } from "../../state/state.ts";
import { withValidation } from "../../state/validating-state.ts";

const valueSpec = z.strictObject({ value: z.string() });

/** Resource types for controller tests: a config input, two derived layers, a report. */
export const SourceSpec = defineResource({ type: "SourceSpec", namespace: "config", schema: valueSpec });
export const DerivedSpec = defineResource({ type: "DerivedSpec", namespace: "runtime", schema: valueSpec });
export const LeafSpec = defineResource({ type: "LeafSpec", namespace: "runtime", schema: valueSpec });

export function testState(): State {
  return wrapCore(withValidation(createMemoryState(), createRegistry([SourceSpec, DerivedSpec, LeafSpec])));
}

export const within = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });
