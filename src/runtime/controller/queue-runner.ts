import { formatPointer, type Pointer, pointerOf } from "../resource/resource.ts";
import { backoffDelay } from "./backoff.ts";
import type { QueueController } from "./controller.ts";
import { RequeueError } from "./controller.ts";
import { createControllerContext } from "./controller-context.ts";
import type { Runner, RunnerOptions } from "./controller-runner.ts";
import { watchInputs } from "./input-watch.ts";

interface Item {
  readonly ptr: Pointer;
  attempts: number;
  timer?: NodeJS.Timeout;
}

/**
 * Runs a queue controller: each primary resource is queued on start and on every change (and
 * through mapped inputs), deduplicated while it waits, reconciled by up to `concurrency`
 * workers. A failure retries that one resource with its own backoff; RequeueError retries it
 * after the given delay without counting an error.
 */
export function createQueueRunner(controller: QueueController, options: RunnerOptions): Runner {
  const abort = new AbortController();
  const log = options.log.child({ controller: controller.name });
  const ctx = createControllerContext(controller, options.state, { signal: abort.signal, log });
  const labels = { controller: controller.name };
  const concurrency = Math.max(1, controller.concurrency ?? 1);
  const items = new Map<string, Item>();
  const queue: string[] = [];
  const queued = new Set<string>();
  const active = new Set<string>();
  /** Changed while being reconciled: queue again when done. */
  const again = new Set<string>();
  const workers = new Set<Promise<void>>();
  /** Resources whose latest reconcile failed → why. */
  const failing = new Map<string, string>();

  function enqueue(ptr: Pointer): void {
    if (abort.signal.aborted) return;
    const key = formatPointer(ptr);
    let item = items.get(key);
    if (!item) {
      item = { ptr: { namespace: ptr.namespace, type: ptr.type, id: ptr.id }, attempts: 0 };
      items.set(key, item);
    }
    if (active.has(key)) {
      again.add(key);
      return;
    }
    if (item.timer) {
      clearTimeout(item.timer);
      item.timer = undefined;
    }
    if (!queued.has(key)) {
      queued.add(key);
      queue.push(key);
      options.metrics.queueDepth.set(labels, queue.length);
    }
    pump();
  }

  function later(key: string, ms: number): void {
    const item = items.get(key);
    if (!item || abort.signal.aborted) return;
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      item.timer = undefined;
      enqueue(item.ptr);
    }, ms);
  }

  function pump(): void {
    while (workers.size < concurrency && queue.length > 0 && !abort.signal.aborted) {
      const key = queue.shift()!;
      queued.delete(key);
      options.metrics.queueDepth.set(labels, queue.length);
      const w: Promise<void> = work(key).finally(() => {
        workers.delete(w);
        pump();
      });
      workers.add(w);
    }
  }

  async function work(key: string): Promise<void> {
    const item = items.get(key)!;
    active.add(key);
    const end = options.metrics.duration.startTimer(labels);
    options.metrics.reconciles.inc(labels);
    try {
      const result = await controller.reconcile(ctx, item.ptr);
      item.attempts = 0;
      failing.delete(key);
      if (result?.requeueAfterMs !== undefined) later(key, result.requeueAfterMs);
      else if (!again.has(key)) items.delete(key);
    } catch (err) {
      if (abort.signal.aborted) return;
      if (err instanceof RequeueError) {
        later(key, err.afterMs);
      } else {
        options.metrics.errors.inc(labels);
        failing.set(key, `${key}: ${(err as Error).message ?? String(err)}`);
        const delay = backoffDelay(item.attempts++, options.backoff);
        log.error({ err, resource: key, attempt: item.attempts, retryInMs: delay }, "reconcile failed");
        later(key, delay);
      }
    } finally {
      end();
      active.delete(key);
      if (again.delete(key)) enqueue(item.ptr);
    }
  }

  return {
    async start() {
      const primary = { ...controller.primary, kind: "strong" as const };
      await watchInputs(options.state, [primary, ...(controller.mappedInputs ?? [])], {
        signal: abort.signal,
        log,
        onChange(resource, input) {
          const mapped = controller.mappedInputs?.find((m) => m === input);
          if (mapped) for (const p of mapped.map(resource)) enqueue(p);
          else enqueue(pointerOf(resource));
        },
        onResync: () => void enqueueAll(),
      });
      await enqueueAll();
    },
    poke: () => void enqueueAll(),
    failure: () => failing.values().next().value,
    async stop() {
      abort.abort();
      for (const item of items.values()) clearTimeout(item.timer);
      await Promise.all(workers);
    },
  };

  async function enqueueAll(): Promise<void> {
    const all = await options.state.list(controller.primary, { signal: abort.signal }).catch(() => []);
    for (const r of all) enqueue(pointerOf(r));
  }
}
