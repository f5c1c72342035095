import { PlinthError } from "../../errors/plinth-error.ts";

/**
 * A bounded queue between a producer that must never block (the store, notifying every watcher
 * of a change in turn) and one consumer. Once `limit` items wait unread, the queue fails for
 * good: the consumer gets the error after what it already had, never a silently stale view.
 */
export interface WatchQueue<T> {
  push(item: T): void;
  /** The next item; rejects once failed or when `signal` aborts. */
  next(signal?: AbortSignal): Promise<T>;
  fail(err: Error): void;
  readonly size: number;
}

export function createWatchQueue<T>(limit: number, overflow: () => Error): WatchQueue<T> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(
      `Cannot create a watch queue: 'limit' must be an integer >= 1, current value is ${limit}`,
    );
  }
  let items: T[] = [];
  let head = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;

  function signalWaiter(): void {
    const w = wake;
    wake = undefined;
    w?.();
  }

  return {
    get size() {
      return items.length - head;
    },
    push(item) {
      if (failure) return;
      if (items.length - head >= limit) {
        failure = overflow();
        signalWaiter();
        return;
      }
      items.push(item);
      signalWaiter();
    },
    fail(err) {
      failure ??= err;
      signalWaiter();
    },
    async next(signal) {
      for (;;) {
        if (head < items.length && !failure) {
          const item = items[head]!;
          items[head++] = undefined as T;
          if (head > 1024 && head * 2 > items.length) {
            items = items.slice(head);
            head = 0;
          }
          return item;
        }
        if (failure) throw failure;
        if (signal?.aborted)
          throw new PlinthError("canceled", "the watch was canceled", { cause: signal.reason });
        await new Promise<void>((resolve) => {
          const onAbort = () => {
            wake = undefined;
            resolve();
          };
          signal?.addEventListener("abort", onAbort, { once: true });
          wake = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
        });
      }
    },
  };
}
