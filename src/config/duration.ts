/**
 * Durations as Go and talosctl write them: `500ms`, `10s`, `1m30s`, `24h`. Parsed to milliseconds.
 */
const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const whole = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== "string" || !whole.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(part)) total += Number(match[1]) * unitMs[match[2]!]!;
  return Number.isFinite(total) ? total : undefined;
}

/** The shortest text for whole milliseconds: 90000 → `1m30s`, 500 → `500ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new RangeError(`Cannot format duration: expected whole milliseconds >= 0, current value is ${ms}`);
  }
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join("");
}
