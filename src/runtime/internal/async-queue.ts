/**
 * An unbounded-by-design, bounded-in-practice queue consumed as an AsyncIterable. The producer
 * pushes synchronously; pushing past `limit` fails the queue with the error from `onOverflow`,
 * so that a consumer that stopped reading cannot grow memory without end.
 */
export interface AsyncQueueOptions {
  readonly limit?: number;
  readonly onOverflow?: () => Error;
  /** Called once when the consumer stops (break, return, abort or end). */
  readonly onClose?: () => void;
  readonly signal?: AbortSignal;
}

export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #failWaiter: ((err: unknown) => void) | undefined;
  #ended = false;
  #error: unknown;
  #closed = false;
  readonly #options: AsyncQueueOptions;
  readonly #onAbort = () => this.end();

  constructor(options: AsyncQueueOptions = {}) {
    this.#options = options;
    if (options.signal?.aborted) this.#ended = true;
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get done(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  push(item: T): void {
    if (this.done) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#options.limit !== undefined && this.size >= this.#options.limit) {
      this.fail(this.#options.onOverflow?.() ?? new RangeError("queue overflow"));
      return;
    }
    this.#items.push(item);
  }

  /** Ends after the queued items are consumed. */
  end(): void {
    if (this.done) return;
    this.#ended = true;
    this.#wakeDone();
  }

  /** Fails the consumer after the queued items are consumed. */
  fail(err: unknown): void {
    if (this.done) return;
    this.#error = err;
    const fail = this.#failWaiter;
    if (fail) {
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      this.#close();
      fail(err);
    }
  }

  #wakeDone(): void {
    const waiter = this.#waiter;
    if (waiter && this.size === 0) {
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      this.#close();
      waiter({ value: undefined, done: true });
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#options.onClose?.();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head] = undefined as T;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#error !== undefined) {
      this.#close();
      return Promise.reject(this.#error);
    }
    if (this.#ended) {
      this.#close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.#items = [];
        this.#head = 0;
        this.#ended = true;
        this.#close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
