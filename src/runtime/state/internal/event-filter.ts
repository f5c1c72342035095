import type { LabelQuery } from "../../resource/label-query.ts";
import { matchesLabels } from "../../resource/label-query.ts";
import type { AnyResource } from "../../resource/resource.ts";
import type { WatchEvent } from "../core-state.ts";

/** A change as a backend records it; `revision` orders all changes of one state. */
export type Change =
  | { readonly type: "created"; readonly revision: number; readonly resource: AnyResource }
  | {
      readonly type: "updated";
      readonly revision: number;
      readonly resource: AnyResource;
      readonly old: AnyResource;
    }
  | { readonly type: "destroyed"; readonly revision: number; readonly resource: AnyResource };

export interface WatchFilter {
  readonly id?: string;
  readonly labelQuery?: LabelQuery;
}

/**
 * What one watcher sees of a change. With a label query, an update that makes a resource match
 * is its creation for that watcher, and one that makes it stop matching is its destruction.
 */
export function eventFor(change: Change, filter: WatchFilter): WatchEvent | undefined {
  if (filter.id !== undefined && change.resource.metadata.id !== filter.id) return undefined;
  const bookmark = String(change.revision);
  const q = filter.labelQuery;
  if (change.type !== "updated") {
    if (q && !matchesLabels(change.resource.metadata.labels, q)) return undefined;
    return { type: change.type, resource: change.resource, bookmark };
  }
  if (!q) return { type: "updated", resource: change.resource, old: change.old, bookmark };
  const was = matchesLabels(change.old.metadata.labels, q);
  const is = matchesLabels(change.resource.metadata.labels, q);
  if (was && is) return { type: "updated", resource: change.resource, old: change.old, bookmark };
  if (is) return { type: "created", resource: change.resource, bookmark };
  if (was) return { type: "destroyed", resource: change.resource, bookmark };
  return undefined;
}
