import type { UpstreamAddress } from "./upstream-address.ts";
import type { Upstream, UpstreamPool } from "./upstream-pool.ts";

/** Connects to an upstream and lets go; rejects on failure or once `signal` aborts. */
export type Probe = (address: UpstreamAddress, signal: AbortSignal) => Promise<void>;

export interface HealthCheckTiming {
  /** Time from the start of one round of checks to the next; default 1000 ms. */
  readonly intervalMs?: number;
  /** Time one check may take before it counts as failed; default 500 ms, at most the interval. */
  readonly timeoutMs?: number;
}

export interface HealthCheckerOptions extends HealthCheckTiming {
  readonly probe: Probe;
  /** Clock for latencies; default `performance.now`. */
  readonly now?: () => number;
}

export interface HealthChecker {
  /** Checks one upstream at once (a new member) unless a check of it is under way. */
  checkNow(upstream: Upstream): void;
  /** New timing, from the next round on. */
  configure(timing: HealthCheckTiming): void;
  /** Stops the rounds and aborts checks under way; resolves when they have ended. */
  stop(): Promise<void>;
}

/** Checks the interval and timeout, throwing a RangeError that names the field and the value. */
export function checkTiming(timing: HealthCheckTiming): { intervalMs: number; timeoutMs: number } {
  const intervalMs = timing.intervalMs ?? 1000;
  const timeoutMs = timing.timeoutMs ?? 500;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
    throw new RangeError(
      `Cannot configure health checks: 'intervalMs' must be > 0, current value is ${intervalMs}`,
    );
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= intervalMs)) {
    throw new RangeError(
      `Cannot configure health checks: 'timeoutMs' must be > 0 and <= the interval (${intervalMs}), ` +
        `current value is ${timeoutMs}`,
    );
  }
  return { intervalMs, timeoutMs };
}

/**
 * Active TCP checks: every interval, each upstream of the pool is probed, all at once (not one
 * after another, so one slow upstream never delays the verdict on the others).
 */
export function createHealthChecker(pool: UpstreamPool, options: HealthCheckerOptions): HealthChecker {
  let timing = checkTiming(options);
  const now = options.now ?? (() => performance.now());
  const running = new Map<Upstream, { abort: AbortController; done: Promise<void> }>();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function check(upstream: Upstream): void {
    if (stopped || running.has(upstream)) return;
    const abort = new AbortController();
    const timeout = setTimeout(
      () => abort.abort(new Error(`no connection within ${timing.timeoutMs} ms`)),
      timing.timeoutMs,
    );
    const started = now();
    const done = options
      .probe(upstream.address, abort.signal)
      .then(
        () => {
          // A probe that ignored the signal still failed once the timeout passed.
          if (abort.signal.aborted) throw abort.signal.reason;
          if (!stopped && upstream.inPool) pool.succeeded(upstream, now() - started);
        },
        (err: unknown) => {
          throw abort.signal.aborted ? abort.signal.reason : err;
        },
      )
      .catch((err: unknown) => {
        if (!stopped && upstream.inPool) pool.failed(upstream, "check", reasonOf(err));
      })
      .finally(() => {
        clearTimeout(timeout);
        running.delete(upstream);
      });
    running.set(upstream, { abort, done });
  }

  function round(): void {
    for (const upstream of pool.list()) check(upstream);
    timer = setTimeout(round, timing.intervalMs);
  }
  timer = setTimeout(round, 0);

  return {
    checkNow: check,
    configure(next) {
      timing = checkTiming(next);
      if (timer !== undefined && !stopped) {
        clearTimeout(timer);
        timer = setTimeout(round, timing.intervalMs);
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      const pending = [...running.values()];
      for (const p of pending) p.abort.abort(new Error("health checks stopped"));
      await Promise.all(pending.map((p) => p.done));
    },
  };
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
