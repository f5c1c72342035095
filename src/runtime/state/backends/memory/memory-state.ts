import type { CoreState } from "../../core-state.ts";
import { createStoreEngine } from "../../internal/store-engine.ts";
import type { WatchHubOptions } from "../../internal/watch-hub.ts";

export type MemoryStateOptions = WatchHubOptions;

/** A CoreState held in process memory: fast, shared by nothing, gone on exit. */
export function createMemoryState(options: MemoryStateOptions = {}): CoreState {
  return createStoreEngine(options);
}
