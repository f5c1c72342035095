/**
 * Polls `fn` until it returns a value other than undefined; a throw counts as "not yet". Fails
 * after the timeout naming what it waited for and the last error seen.
 */
export async function eventually<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message ?? last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
