import type { WatchEvent } from "../core-state.ts";

/** Reads watch events with a deadline, so a broken backend fails a test instead of hanging it. */
export interface WatchReader {
  next(timeoutMs?: number): Promise<WatchEvent>;
  take(n: number, timeoutMs?: number): Promise<WatchEvent[]>;
  /** Resolves true when no event arrives within the time. */
  quiet(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export function readWatch(events: AsyncIterable<WatchEvent>): WatchReader {
  const it = events[Symbol.asyncIterator]();
  let inflight: Promise<IteratorResult<WatchEvent>> | undefined;
  const pull = () => {
    inflight ??= it.next();
    return inflight;
  };
  async function next(timeoutMs = 5000): Promise<WatchEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([pull(), timeout]);
      inflight = undefined;
      if (r.done) throw new Error("watch ended");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }
  return {
    next,
    async take(n, timeoutMs) {
      const out: WatchEvent[] = [];
      for (let i = 0; i < n; i++) out.push(await next(timeoutMs));
      return out;
    },
    async quiet(ms) {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        pull().then(() => false),
        new Promise<boolean>((res) => {
          timer = setTimeout(() => res(true), ms);
        }),
      ]);
      clearTimeout(timer);
      return r;
    },
    async close() {
      await it.return?.();
    },
  };
}
