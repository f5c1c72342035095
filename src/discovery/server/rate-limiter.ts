import { PlinthError } from "../../errors/plinth-error.ts";

export interface RateLimiterOptions {
  /** Tokens added per second to each key's bucket. */
  readonly perSecond: number;
  /** Bucket size: how many requests may come at once after a quiet spell. */
  readonly burst: number;
  /** Epoch milliseconds; default Date.now. */
  readonly now?: () => number;
}

export interface TakeOptions {
  /** Epoch milliseconds: fail at once when the token would come later than this. */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
}

/**
 * Token buckets, one per key (a client IP). A request takes a token, waiting for one when the
 * bucket is empty, and fails with resource_exhausted only when the wait would end after its
 * deadline (a request without one waits as long as it takes).
 */
export interface RateLimiter {
  /** Takes a token only when one is there now (no waiting); false otherwise, nothing taken. */
  tryTake(key: string): boolean;
  take(key: string, options?: TakeOptions): Promise<void>;
  /** Forgets buckets that are full again (their clients went quiet); returns how many remain. */
  sweep(): number;
}

interface Bucket {
  /** May go negative: tokens promised to requests that are waiting. */
  tokens: number;
  at: number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { perSecond, burst } = options;
  if (!(Number.isFinite(perSecond) && perSecond > 0)) {
    throw new RangeError(
      `Cannot create a rate limiter: 'perSecond' must be > 0, current value is ${perSecond}`,
    );
  }
  if (!(Number.isInteger(burst) && burst >= 1)) {
    throw new RangeError(
      `Cannot create a rate limiter: 'burst' must be an integer >= 1, current value is ${burst}`,
    );
  }
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();

  function refill(bucket: Bucket, at: number): void {
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) * perSecond) / 1000);
    bucket.at = at;
  }

  return {
    tryTake(key) {
      const bucket = buckets.get(key);
      if (!bucket) {
        buckets.set(key, { tokens: burst - 1, at: now() });
        return true;
      }
      refill(bucket, now());
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    async take(key, takeOptions = {}) {
      const at = now();
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: burst, at };
        buckets.set(key, bucket);
      }
      refill(bucket, at);
      bucket.tokens -= 1;
      if (bucket.tokens >= 0) return;
      const waitMs = Math.ceil((-bucket.tokens * 1000) / perSecond);
      const give = bucket;
      if (takeOptions.deadline !== undefined && at + waitMs > takeOptions.deadline) {
        give.tokens += 1;
        throw new PlinthError(
          "resource_exhausted",
          `rate limit exceeded for ${key || "this client"}: the next request slot is ${waitMs} ms away, past the request's deadline (${perSecond} requests/s, burst ${burst})`,
        );
      }
      const signal = takeOptions.signal;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          give.tokens += 1;
          reject(
            new PlinthError("canceled", "the request was canceled while waiting for the rate limit", {
              cause: signal?.reason,
            }),
          );
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, waitMs);
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    sweep() {
      const at = now();
      for (const [key, bucket] of buckets) {
        refill(bucket, at);
        if (bucket.tokens >= burst) buckets.delete(key);
      }
      return buckets.size;
    },
  };
}
