import type { Controller } from "../../../../runtime/controller/controller.ts";
import {
  type ControllerRuntime,
  createControllerRuntime,
} from "../../../../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../../../../runtime/resource/registry.ts";
import { createMemoryState } from "../../../../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../../../../runtime/state/state.ts";
import { withValidation } from "../../../../runtime/state/validating-state.ts";
import { eventually } from "../../../../testing/eventually.ts";
import { agentResources, Diagnostic } from "../../../resources/index.ts";

/** Controllers under test on an in-memory state of the agent's resource types. */
export interface DiagnosticsHarness {
  readonly state: State;
  readonly runtime: ControllerRuntime;
  /** The diagnostics' ids once `predicate` holds for them (sorted); fails after a few seconds. */
  diagnostics(predicate: (ids: string[]) => boolean): Promise<string[]>;
  close(): Promise<void>;
}

export async function startDiagnosticsHarness(...controllers: Controller[]): Promise<DiagnosticsHarness> {
  const state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
  const runtime = createControllerRuntime({ state });
  runtime.register(...controllers);
  await runtime.start();
  return {
    state,
    runtime,
    diagnostics: (predicate) =>
      eventually(
        "the expected diagnostics",
        async () => {
          const ids = (await state.list(Diagnostic.kind())).map((r) => r.metadata.id).sort();
          return predicate(ids) ? ids : undefined;
        },
        5000,
      ),
    close: () => runtime.stop(),
  };
}
