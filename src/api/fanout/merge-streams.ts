/**
 * Interleaves several async iterables in arrival order, pulling each only as fast as the merged
 * stream is read. Ends when all have ended; `stop` is called when the reader stops early, and
 * must make the sources' pending reads settle (abort their calls).
 */
export async function* mergeStreams<T>(
  sources: readonly AsyncIterable<T>[],
  stop: () => void,
): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) =>
    pending.set(
      index,
      iterators[index]!.next().then((result) => ({ index, result })),
    );
  iterators.forEach((_, index) => {
    pull(index);
  });
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield result.value;
    }
  } finally {
    if (pending.size > 0) {
      stop();
      await Promise.allSettled(pending.values());
    }
  }
}
