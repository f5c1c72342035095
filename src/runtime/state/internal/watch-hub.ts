import { PlinthError } from "../../../errors/plinth-error.ts";
import { AsyncQueue } from "../../internal/async-queue.ts";
import type { AnyResource, Kind } from "../../resource/resource.ts";
import { kindKey } from "../../resource/resource.ts";
import type { WatchEvent, WatchKindOptions } from "../core-state.ts";
import type { Change, WatchFilter } from "./event-filter.ts";
import { eventFor } from "./event-filter.ts";

interface Watcher {
  readonly queue: AsyncQueue<WatchEvent>;
  readonly filter: WatchFilter;
  /** Changes at or below this revision are already in the watcher's snapshot. */
  readonly after: number;
  lastBookmark: string;
}

export interface WatchHubOptions {
  /** Past changes kept for tailEvents and bookmarks. */
  readonly historySize?: number;
  /** Events a watcher may fall behind before it fails with history_lost. */
  readonly watcherBacklog?: number;
}

/**
 * Delivers the changes of an in-process state to its watchers, in revision order, and keeps a
 * bounded history for replay.
 */
export class WatchHub {
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #history: Change[] = [];
  #historyStart = 0;
  #published = 0;
  readonly #historySize: number;
  readonly #backlog: number;

  constructor(initialRevision: number, options: WatchHubOptions = {}) {
    this.#published = initialRevision;
    this.#historySize = options.historySize ?? 16_384;
    this.#backlog = options.watcherBacklog ?? 65_536;
  }

  /** The revision of the last change delivered to watchers. */
  get revision(): number {
    return this.#published;
  }

  publish(change: Change): void {
    this.#published = change.revision;
    this.#history.push(change);
    if (this.#history.length - this.#historyStart > this.#historySize) {
      this.#historyStart++;
      if (this.#historyStart > 4096) {
        this.#history.splice(0, this.#historyStart);
        this.#historyStart = 0;
      }
    }
    const set = this.#watchers.get(kindKey(change.resource.metadata));
    if (!set) return;
    // Watchers without a filter all get the same (immutable) event object.
    let shared: WatchEvent | undefined;
    for (const w of set) {
      if (change.revision <= w.after) continue;
      const unfiltered = w.filter.id === undefined && w.filter.labelQuery === undefined;
      if (unfiltered && shared === undefined) shared = eventFor(change, w.filter);
      const event = unfiltered ? shared : eventFor(change, w.filter);
      if (event) {
        w.lastBookmark = event.bookmark;
        w.queue.push(event);
      }
    }
  }

  /**
   * Starts a watch. `snapshot` returns the current contents and the revision they reflect; it is
   * called synchronously, so no change can slip between the snapshot and the live events.
   */
  subscribe(
    kind: Kind,
    filter: WatchFilter,
    options: WatchKindOptions,
    snapshot: () => { resources: AnyResource[]; revision: number },
  ): AsyncIterable<WatchEvent> {
    const key = kindKey(kind);
    let set = this.#watchers.get(key);
    const initial: WatchEvent[] = [];
    let after = this.#published;
    if (options.bootstrapContents) {
      const snap = snapshot();
      after = snap.revision;
      for (const resource of snap.resources) {
        const e = eventFor({ type: "created", revision: snap.revision, resource }, filter);
        if (e) initial.push(e);
      }
      initial.push({ type: "bootstrapped", bookmark: String(snap.revision) });
    } else if (options.startFromBookmark !== undefined) {
      const from = Number(options.startFromBookmark);
      const oldest = this.#history[this.#historyStart]?.revision ?? this.#published + 1;
      if (!Number.isInteger(from) || from < 0 || from > this.#published) {
        throw new PlinthError("invalid_argument", `invalid watch bookmark '${options.startFromBookmark}'`);
      }
      if (from < oldest - 1) {
        throw new PlinthError(
          "history_lost",
          `watch history before bookmark ${oldest - 1} is gone (asked for ${from})`,
          { details: { bookmark: String(oldest - 1) } },
        );
      }
      for (let i = this.#historyStart; i < this.#history.length; i++) {
        const c = this.#history[i]!;
        if (c.revision > from && kindKey(c.resource.metadata) === key) {
          const e = eventFor(c, filter);
          if (e) initial.push(e);
        }
      }
    } else if (options.tailEvents !== undefined && options.tailEvents > 0) {
      for (
        let i = this.#history.length - 1;
        i >= this.#historyStart && initial.length < options.tailEvents;
        i--
      ) {
        const c = this.#history[i]!;
        if (kindKey(c.resource.metadata) !== key) continue;
        const e = eventFor(c, filter);
        if (e) initial.push(e);
      }
      initial.reverse();
    }

    const watcher: Watcher = {
      filter,
      after,
      lastBookmark: String(after),
      queue: new AsyncQueue<WatchEvent>({
        limit: this.#backlog + initial.length,
        signal: options.signal,
        onOverflow: () =>
          new PlinthError(
            "history_lost",
            `watch of ${kind.namespace}/${kind.type} fell more than ${this.#backlog} events behind`,
            { details: { bookmark: watcher.lastBookmark } },
          ),
        onClose: () => {
          set?.delete(watcher);
          if (set?.size === 0) this.#watchers.delete(key);
        },
      }),
    };
    for (const e of initial) watcher.queue.push(e);
    if (!watcher.queue.done) {
      if (!set) {
        set = new Set();
        this.#watchers.set(key, set);
      }
      set.add(watcher);
    }
    return watcher.queue;
  }

  /** Number of open watches, for tests that check every watch was closed. */
  get watcherCount(): number {
    let n = 0;
    for (const s of this.#watchers.values()) n += s.size;
    return n;
  }

  /** Ends every watch; with an error, each watcher sees it after its queued events. */
  closeAll(error?: unknown): void {
    for (const set of [...this.#watchers.values()]) {
      for (const w of [...set]) {
        if (error === undefined) w.queue.end();
        else w.queue.fail(error);
      }
    }
    this.#watchers.clear();
  }
}
