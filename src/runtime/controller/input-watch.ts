import type { Logger } from "pino";
import type { AnyResource } from "../resource/resource.ts";
import { kindKey } from "../resource/resource.ts";
import type { WatchEvent } from "../state/core-state.ts";
import type { State } from "../state/state.ts";
import type { ControllerInput } from "./controller.ts";

export interface InputWatchOptions {
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** An input changed. */
  onChange(resource: AnyResource, input: ControllerInput): void;
  /** Events may have been missed (the watch failed and was reopened): look at everything. */
  onResync(): void;
}

/** Does this event wake a controller through this input? */
export function wakes(event: WatchEvent, input: ControllerInput): boolean {
  if (event.type === "bootstrapped") return false;
  const r = event.resource;
  if (input.id !== undefined && r.metadata.id !== input.id) return false;
  if (input.kind !== "destroyReady") return true;
  return (
    event.type !== "destroyed" && r.metadata.phase === "tearingDown" && r.metadata.finalizers.length === 0
  );
}

/**
 * Watches every kind a controller reads, one watch per kind, and reports changes. A failed watch
 * (a slow consumer losing history, a backend reconnecting) is reopened and reported as a resync.
 * Resolves once every watch is open.
 */
export async function watchInputs(
  state: State,
  inputs: readonly ControllerInput[],
  options: InputWatchOptions,
): Promise<void> {
  const byKind = new Map<string, ControllerInput[]>();
  for (const i of inputs) {
    const key = kindKey(i);
    byKind.set(key, [...(byKind.get(key) ?? []), i]);
  }
  const opened: Promise<void>[] = [];
  for (const group of byKind.values()) {
    const kind = { namespace: group[0]!.namespace, type: group[0]!.type };
    opened.push(
      new Promise<void>((resolveOpened) => {
        void (async () => {
          let first = true;
          while (!options.signal.aborted) {
            try {
              const events = state.watchKind(kind, { signal: options.signal });
              if (first) {
                first = false;
                resolveOpened();
              } else {
                options.onResync();
              }
              for await (const e of events) {
                for (const input of group)
                  if (wakes(e, input)) options.onChange((e as { resource: AnyResource }).resource, input);
              }
            } catch (err) {
              if (options.signal.aborted) break;
              options.log.warn({ err, kind }, "input watch failed; reopening");
              resolveOpened();
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          resolveOpened();
        })();
      }),
    );
  }
  await Promise.all(opened);
}
