export interface BackoffOptions {
  /** First delay; default 100 ms. */
  readonly initialMs?: number;
  /** Ceiling; default 30 s. */
  readonly maxMs?: number;
  readonly factor?: number;
  /** Random spread as a fraction of the delay (0..1); default 0.2. */
  readonly jitter?: number;
}

/** Exponential backoff with jitter; `reset()` after a success. */
export interface Backoff {
  next(): number;
  reset(): void;
  readonly attempts: number;
}

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initial, max, factor, jitter } = resolve(options);
  const base = Math.min(max, initial * factor ** attempt);
  const spread = base * jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

function resolve(options: BackoffOptions) {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  if (!(initial > 0))
    throw new RangeError(`Cannot create backoff: 'initialMs' must be > 0, current value is ${initial}`);
  if (!(max >= initial)) {
    throw new RangeError(
      `Cannot create backoff: 'maxMs' must be >= initialMs (${initial}), current value is ${max}`,
    );
  }
  if (!(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`Cannot create backoff: 'jitter' must be within 0..1, current value is ${jitter}`);
  }
  if (!(factor >= 1))
    throw new RangeError(`Cannot create backoff: 'factor' must be >= 1, current value is ${factor}`);
  return { initial, max, factor, jitter };
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  resolve(options);
  let attempts = 0;
  return {
    next: () => backoffDelay(attempts++, options),
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
