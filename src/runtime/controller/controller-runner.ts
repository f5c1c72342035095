import type { Logger } from "pino";
import type { State } from "../state/state.ts";
import type { BackoffOptions } from "./backoff.ts";
import { createBackoff } from "./backoff.ts";
import type { Controller } from "./controller.ts";
import { createControllerContext } from "./controller-context.ts";
import { watchInputs } from "./input-watch.ts";
import type { ControllerMetrics } from "./metrics.ts";

export interface RunnerOptions {
  readonly state: State;
  readonly log: Logger;
  readonly metrics: ControllerMetrics;
  readonly backoff?: BackoffOptions;
}

export interface Runner {
  start(): Promise<void>;
  /** Reconcile soon: something outside the state changed (host events, process exits). */
  poke(): void;
  /** Stops waking the controller and waits for a running reconcile to end. */
  stop(): Promise<void>;
  /** Why the latest reconcile failed (for a queue controller: one of its failing resources); undefined when it did not. */
  failure(): string | undefined;
}

/**
 * Runs one controller: a reconcile at start, then one whenever an input changes. Changes that
 * arrive during a reconcile coalesce into one more run. A failed run is retried after an
 * exponential backoff; other controllers are not affected.
 */
export function createControllerRunner(controller: Controller, options: RunnerOptions): Runner {
  const abort = new AbortController();
  const log = options.log.child({ controller: controller.name });
  const ctx = createControllerContext(controller, options.state, { signal: abort.signal, log });
  const backoff = createBackoff(options.backoff);
  const labels = { controller: controller.name };
  let dirty = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** While backing off, changes wait for the timer instead of retrying at once. */
  let backingOff = false;
  let lastError: string | undefined;

  function schedule(): void {
    if (abort.signal.aborted) return;
    dirty = true;
    if (running || backingOff) return;
    running = loop().finally(() => {
      running = undefined;
    });
  }

  function after(ms: number, backingOffNow: boolean): void {
    // A run that ends after stop() must not leave a timer behind.
    if (abort.signal.aborted) return;
    clearTimeout(timer);
    backingOff = backingOffNow;
    timer = setTimeout(() => {
      timer = undefined;
      backingOff = false;
      schedule();
    }, ms);
  }

  async function loop(): Promise<void> {
    // Yield once so a burst of changes coalesces into one run.
    await new Promise<void>((r) => setImmediate(r));
    while (dirty && !abort.signal.aborted) {
      dirty = false;
      const end = options.metrics.duration.startTimer(labels);
      options.metrics.reconciles.inc(labels);
      try {
        const result = await controller.reconcile(ctx);
        end();
        backoff.reset();
        lastError = undefined;
        if (result?.requeueAfterMs !== undefined && !dirty) after(result.requeueAfterMs, false);
      } catch (err) {
        end();
        if (abort.signal.aborted) return;
        options.metrics.errors.inc(labels);
        lastError = (err as Error).message ?? String(err);
        const delay = backoff.next();
        log.error({ err, attempt: backoff.attempts, retryInMs: delay }, "reconcile failed");
        dirty = false;
        after(delay, true);
        return;
      }
    }
  }

  return {
    async start() {
      await watchInputs(options.state, controller.inputs, {
        signal: abort.signal,
        log,
        onChange: schedule,
        onResync: schedule,
      });
      schedule();
    },
    poke: schedule,
    failure: () => lastError,
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
