import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3, IEvent, IKeyValue, IWatchResponse } from "etcd3";
import { hasCode, PlinthError } from "../../../../errors/plinth-error.ts";
import { AsyncQueue } from "../../../internal/async-queue.ts";
import type { AnyResource, Kind, Pointer } from "../../../resource/resource.ts";
import type { WatchEvent, WatchKindOptions } from "../../core-state.ts";
import { type Change, eventFor, type WatchFilter } from "../../internal/event-filter.ts";
import { translateWatchCancel } from "./etcd-error.ts";
import type { EtcdKeys, KeyRange } from "./etcd-keys.ts";
import { runWatchStream } from "./etcd-watch-stream.ts";

export interface Entry {
  readonly resource: AnyResource;
  readonly modRevision: number;
}

/** The contents of a key range at one revision. */
export interface Snapshot {
  readonly revision: number;
  readonly entries: Map<string, Entry>;
  /** mod_revision of the kind's change marker, when the range holds it. */
  readonly marker: number | undefined;
}

/** What a watch needs from the state that opened it. */
export interface EtcdSession {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readRange(
    action: string,
    kind: Kind,
    range: KeyRange,
    revision: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Snapshot>;
  decode(kv: IKeyValue, ptr: Pointer): AnyResource;
  translate(err: unknown, action: string): PlinthError;
  readonly tailWindow: number;
  readonly watcherBacklog: number;
  readonly maxReconnectDelayMs: number;
  /** Watches to stop when the state closes. */
  readonly openWatches: Set<{ stop(): void }>;
  /**
   * Watches not yet registered with etcd. Writes wait for them, so that a watch opened before a
   * write of the same state sees that write as an event (as with the in-process states), and
   * sees it at once: etcd sends changes it made before a watcher registered only on its next
   * catch-up round, up to 100 ms later.
   */
  readonly starting: Set<Promise<void>>;
}

const isDelete = (ev: IEvent) => String(ev.type).toUpperCase() === "DELETE";

function byId<T>(entries: Map<string, T>): [string, T][] {
  return [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Past events collected by a tailEvents watch until it reaches the kind's latest change. */
interface TailScan {
  /** The revision of the kind's latest change when the watch started. */
  readonly end: number;
  readonly limit: number;
  ring: WatchEvent[];
  /** Resources as the scan last saw them, for events etcd sent without the previous value. */
  readonly seen: Map<string, AnyResource>;
}

/**
 * A watch on an etcd key range, as a CoreState watch:
 * - bootstrap: the range read at revision R is sent as `created` events, then etcd is watched
 *   from R + 1, so nothing falls between the contents and the live events.
 * - startFromBookmark B: etcd is watched from B + 1; history_lost when etcd compacted it.
 * - tailEvents N: etcd's history of the kind is read by watching from an older revision, and
 *   the last N events up to the kind's latest change (its marker's mod_revision M) are sent
 *   before live ones. The marker says when that replay is complete: etcd sends a watcher that
 *   starts in the past no sign that it has caught up, and M may be a destroy, which a range
 *   read cannot see. The replay starts at most `tailWindow` revisions before M, because etcd
 *   reads every revision of the store in between (all kinds, not only this one): a kind whose
 *   last N events lie further back, or were compacted, gets fewer.
 * Every watch keeps the contents it has told its consumer about (for bootstrap-less watches,
 * silently read at the start), so live events carry `old` without asking etcd, and after a
 * reconnect whose revision etcd compacted meanwhile, the watch re-reads the range and sends the
 * differences instead of failing.
 */
export function openEtcdWatch(
  session: EtcdSession,
  kind: Kind,
  filter: WatchFilter,
  options: WatchKindOptions,
): AsyncIterable<WatchEvent> {
  const what = `watch ${kind.namespace}/${kind.type}${filter.id === undefined ? "" : `/${filter.id}`}`;
  const stop = new AbortController();
  let lastBookmark = "0";
  const handle = {
    stop() {
      stop.abort();
      queue.end();
    },
  };
  const queue = new AsyncQueue<WatchEvent>({
    signal: options.signal,
    onClose: () => {
      stop.abort();
      session.openWatches.delete(handle);
    },
  });
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true, signal: stop.signal });
  session.openWatches.add(handle);

  const sink: WatchSink = {
    push(event, live) {
      if (queue.done) return;
      if (live && queue.size >= session.watcherBacklog) {
        queue.fail(
          new PlinthError("history_lost", `${what} fell more than ${session.watcherBacklog} events behind`, {
            details: { bookmark: lastBookmark },
          }),
        );
        stop.abort();
        return;
      }
      lastBookmark = event.bookmark;
      queue.push(event);
    },
  };
  let started = () => {};
  const starting = new Promise<void>((resolve) => {
    started = () => {
      session.starting.delete(starting);
      resolve();
    };
  });
  session.starting.add(starting);
  runWatch(session, kind, filter, options, sink, started, stop.signal).then(
    () => {
      started();
      stop.abort();
    },
    (err) => {
      started();
      if (!stop.signal.aborted) queue.fail(session.translate(err, what));
      stop.abort();
    },
  );
  return queue;
}

interface WatchSink {
  /** `live` events count against the backlog; a batch of contents does not. */
  push(event: WatchEvent, live: boolean): void;
}

async function runWatch(
  session: EtcdSession,
  kind: Kind,
  filter: WatchFilter,
  options: WatchKindOptions,
  sink: WatchSink,
  started: () => void,
  stop: AbortSignal,
): Promise<void> {
  const what = `watch ${kind.namespace}/${kind.type}${filter.id === undefined ? "" : `/${filter.id}`}`;
  const tail =
    options.bootstrapContents || options.startFromBookmark !== undefined ? 0 : (options.tailEvents ?? 0);
  // One resource's watch reads just its key, unless its tail needs the kind's marker.
  const range =
    filter.id !== undefined && tail <= 0
      ? session.keys.resourceRange({ ...kind, id: filter.id })
      : session.keys.kindRange(kind);
  const keep = (id: string) => filter.id === undefined || id === filter.id;
  /** The range's contents (those the filter's id keeps), sorted by id. */
  const read = async (revision?: number) => {
    const snap = await session.readRange(what, kind, range, revision, stop);
    const view = new Map(byId(snap.entries).filter(([id]) => keep(id)));
    return { revision: snap.revision, marker: snap.marker, view };
  };
  const emit = (change: Change, live: boolean) => {
    const event = eventFor(change, filter);
    if (event) sink.push(event, live);
  };

  /** What the consumer has been told: the range's contents as of the last event delivered. */
  let view = new Map<string, Entry>();
  /** Events at or below this revision are already in `view`. */
  let viewRevision = 0;
  let scan: TailScan | undefined;
  /** Set while nothing has been delivered after the bookmark the watch started from. */
  let atBookmark = false;

  if (options.startFromBookmark !== undefined && !options.bootstrapContents) {
    const from = Number(options.startFromBookmark);
    if (!/^\d+$/.test(options.startFromBookmark) || !Number.isSafeInteger(from)) {
      throw new PlinthError("invalid_argument", `invalid watch bookmark '${options.startFromBookmark}'`);
    }
    atBookmark = true;
    // etcd reads revision 0 as "now": before the first write there is nothing to read.
    if (from > 0) {
      try {
        view = (await read(from)).view;
      } catch (err) {
        if (hasCode(err, "history_lost")) throw await historyLost(session, range, from, stop, err);
        if (hasCode(err, "invalid_argument") && /future revision/.test((err as Error).message)) {
          throw new PlinthError(
            "invalid_argument",
            `invalid watch bookmark '${from}': it is ahead of the state`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
    }
    viewRevision = from;
  } else {
    const snap = await read();
    view = snap.view;
    viewRevision = snap.revision;
    if (options.bootstrapContents) {
      for (const { resource } of view.values())
        emit({ type: "created", revision: snap.revision, resource }, false);
      sink.push({ type: "bootstrapped", bookmark: String(snap.revision) }, false);
    } else if (tail > 0 && snap.marker !== undefined) {
      scan = { end: snap.marker, limit: tail, ring: [], seen: new Map() };
    }
  }
  let nextStart = scan ? Math.max(1, scan.end - session.tailWindow + 1) : viewRevision + 1;

  function flushScan(): void {
    for (const e of scan?.ring ?? []) sink.push(e, false);
    scan = undefined;
  }

  function scanEvent(s: TailScan, ev: IEvent, id: string, revision: number): void {
    const ptr = { ...kind, id };
    const prev = ev.prev_kv ? session.decode(ev.prev_kv, ptr) : s.seen.get(id);
    let change: Change | undefined;
    if (isDelete(ev)) {
      s.seen.delete(id);
      if (prev) change = { type: "destroyed", revision, resource: prev };
    } else {
      const resource = session.decode(ev.kv, ptr);
      s.seen.set(id, resource);
      if (ev.kv.version === "1") change = { type: "created", revision, resource };
      else if (prev) change = { type: "updated", revision, resource, old: prev };
    }
    const event = change && eventFor(change, filter);
    if (!event) return;
    s.ring.push(event);
    if (s.ring.length > s.limit) s.ring.shift();
  }

  function liveEvent(ev: IEvent, id: string, revision: number): void {
    const old = view.get(id);
    if (isDelete(ev)) {
      if (!old) return;
      view.delete(id);
      emit({ type: "destroyed", revision, resource: old.resource }, true);
    } else {
      const resource = session.decode(ev.kv, { ...kind, id });
      view.set(id, { resource, modRevision: revision });
      emit(
        old
          ? { type: "updated", revision, resource, old: old.resource }
          : { type: "created", revision, resource },
        true,
      );
    }
    viewRevision = revision;
  }

  function onResponse(res: IWatchResponse): void {
    if (res.events.length === 0) {
      // A progress notification: etcd has sent every event up to this revision.
      if (!scan) nextStart = Math.max(nextStart, Number(res.header.revision) + 1);
      return;
    }
    let last = 0;
    for (const ev of res.events) {
      const revision = Number(ev.kv.mod_revision);
      if (revision < nextStart) continue; // sent again after a reconnect
      last = revision;
      const id = session.keys.idOf(kind, ev.kv.key);
      if (id === undefined) continue;
      if (id === "") {
        // The marker is the last write of its transaction: all events up to it are here.
        if (scan && revision >= scan.end) flushScan();
        continue;
      }
      if (!keep(id)) continue;
      if (scan && revision <= scan.end) scanEvent(scan, ev, id, revision);
      else if (revision > viewRevision) liveEvent(ev, id, revision);
    }
    // etcd never splits one revision's events across responses.
    if (last > 0) {
      nextStart = last + 1;
      atBookmark = false;
    }
  }

  /** Brings the consumer's view to the current contents after history was lost. */
  async function resync(): Promise<void> {
    const { view: current, revision } = await read();
    const ids = [...new Set([...view.keys(), ...current.keys()])].sort();
    for (const id of ids) {
      const before = view.get(id);
      const after = current.get(id);
      if (before && !after) emit({ type: "destroyed", revision, resource: before.resource }, false);
      else if (!before && after) emit({ type: "created", revision, resource: after.resource }, false);
      else if (before && after && before.modRevision !== after.modRevision) {
        emit({ type: "updated", revision, resource: after.resource, old: before.resource }, false);
      }
    }
    view = current;
    viewRevision = revision;
    nextStart = revision + 1;
  }

  let delay = 50;
  let needResync = false;
  const backOff = async () => {
    await sleep(delay, undefined, { signal: stop }).catch(() => {});
    delay = Math.min(delay * 2, session.maxReconnectDelayMs);
  };
  while (!stop.aborted) {
    if (needResync) {
      try {
        await resync();
        needResync = false;
      } catch (err) {
        if (!hasCode(err, "unavailable") || stop.aborted) throw err;
        await backOff();
        continue;
      }
    }
    const end = await runWatchStream(
      session.client,
      range,
      nextStart,
      scan !== undefined,
      {
        onCreated: () => {
          delay = 50;
          // From here etcd sends every later change at once, without waiting for a catch-up.
          started();
        },
        onResponse,
      },
      stop,
    );
    started();
    switch (end.kind) {
      case "stopped":
        return;
      case "failed":
        throw end.error;
      case "canceled":
        throw translateWatchCancel(end.reason, what);
      case "compacted":
        if (atBookmark) throw historyLostAt(what, options.startFromBookmark!, end.revision);
        if (scan) {
          // The oldest part of the history went away: keep what is left, or give up the tail
          // when all of it is gone.
          if (end.revision <= scan.end) {
            nextStart = end.revision;
            scan.ring = [];
            scan.seen.clear();
          } else {
            scan = undefined;
            nextStart = viewRevision + 1;
          }
        } else {
          needResync = true;
        }
        break;
      case "error": {
        const err = session.translate(end.error, what);
        if (err.code !== "unavailable") throw err;
        await backOff();
        break;
      }
    }
  }
}

/**
 * After compacting at C, etcd still holds the contents at C and every later event, so C is the
 * oldest bookmark a watch can start from.
 */
function historyLostAt(what: string, bookmark: string, compactRevision: number): PlinthError {
  const oldest = String(compactRevision);
  return new PlinthError(
    "history_lost",
    `cannot ${what} from bookmark ${bookmark}: etcd compacted its history up to bookmark ${oldest}`,
    { details: { bookmark: oldest } },
  );
}

/** The history_lost error for a bookmark whose revision etcd compacted, naming the oldest usable. */
async function historyLost(
  session: EtcdSession,
  range: KeyRange,
  from: number,
  stop: AbortSignal,
  cause: unknown,
): Promise<PlinthError> {
  // Only a watch tells the compaction revision: ask for one from the bookmark and let etcd refuse.
  const end = await runWatchStream(
    session.client,
    range,
    from + 1,
    false,
    { onCreated() {}, onResponse() {} },
    stop,
  );
  if (end.kind !== "compacted") return session.translate(cause, `watch from bookmark ${from}`);
  const err = historyLostAt(`watch`, String(from), end.revision);
  return new PlinthError(err.code, err.message, { details: err.details, cause });
}
