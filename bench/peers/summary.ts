// The pure part of `bench peers`: its arguments, medians over runs and the table it prints.

export interface Goal {
  readonly value: number;
  readonly higherIsBetter: boolean;
}

/** One figure a comparison measures in every run. */
export interface FigureSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Decimal places shown and kept in the JSON. */
  readonly digits: number;
  readonly goal?: Goal;
  /** Part of the JSON object (the keys the comparison promises); the rest are shown only. */
  readonly json: boolean;
}

/** One comparison: Plinth beside a peer, both sides in every run. */
export interface Comparison {
  readonly title: string;
  readonly figures: readonly FigureSpec[];
  /** What the rows measure, and what one side does that the other cannot. */
  readonly notes: readonly string[];
  /** One run of both sides: every figure's value. Throws when either side cannot run. */
  run(): Promise<Record<string, number>>;
}

export interface PeersArgs {
  readonly runs: number;
  /** Numbers of the comparisons to run (1–count); all when absent. */
  readonly only?: readonly number[];
}

/**
 * `--runs N` (default 5) and `--only N[,N…]` from the bench's arguments; other arguments belong
 * to bench/main.ts.
 */
export function parsePeersArgs(args: readonly string[], count: number): PeersArgs {
  let runs = 5;
  let only: number[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const flag = /^--(runs|only)(=|$)/.exec(arg);
    if (!flag) continue;
    const value = flag[2] === "=" ? arg.slice(flag[0].length) : args[++i];
    if (flag[1] === "runs") {
      if (value === undefined || !/^[1-9]\d*$/.test(value)) {
        throw new Error(
          `bench peers: --runs expects a whole number of runs >= 1, current value is ${JSON.stringify(value ?? null)}`,
        );
      }
      runs = Number(value);
    } else {
      const numbers = (value ?? "").split(",").map(Number);
      if (value === undefined || numbers.some((n) => !Number.isInteger(n) || n < 1 || n > count)) {
        throw new Error(
          `bench peers: --only expects comparison numbers 1–${count} separated by commas, current value is ${JSON.stringify(value ?? null)}`,
        );
      }
      only = numbers;
    }
  }
  return only ? { runs, only } : { runs };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function roundTo(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A figure over the runs: the median is what is reported, min and max show the spread. */
export interface Summary {
  readonly spec: FigureSpec;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly met?: boolean;
}

export function summarize(spec: FigureSpec, values: readonly number[]): Summary {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`${spec.key}: every run must measure a finite value, got ${JSON.stringify(values)}`);
  }
  const m = roundTo(median(values), spec.digits);
  const met = spec.goal && (spec.goal.higherIsBetter ? m >= spec.goal.value : m <= spec.goal.value);
  return {
    spec,
    median: m,
    min: roundTo(Math.min(...values), spec.digits),
    max: roundTo(Math.max(...values), spec.digits),
    ...(met === undefined ? {} : { met }),
  };
}

const number = (n: number, digits: number) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** What one comparison printed: its figures over the runs, or why it could not run. */
export type Outcome =
  | { readonly title: string; readonly notes: readonly string[]; readonly summaries: readonly Summary[] }
  | { readonly title: string; readonly notes: readonly string[]; readonly error: string };

export function renderTable(outcomes: readonly Outcome[], runs: number): string {
  const headers = ["figure", `median of ${runs}`, "min–max", "goal", ""];
  const rows: (string[] | string)[] = [];
  for (const o of outcomes) {
    rows.push(o.title);
    if ("error" in o) {
      rows.push(`  FAILED: ${o.error}`);
    } else {
      for (const s of o.summaries) {
        const { unit, digits, goal } = s.spec;
        const u = unit === "×" ? "×" : ` ${unit}`;
        rows.push([
          `  ${s.spec.label}`,
          `${number(s.median, digits)}${u}`,
          runs > 1 ? `${number(s.min, digits)}–${number(s.max, digits)}` : "",
          goal ? `${goal.higherIsBetter ? "≥" : "≤"} ${goal.value.toLocaleString("en")}${u}` : "",
          s.met === undefined ? "" : s.met ? "met" : "MISSED",
        ]);
      }
    }
    for (const n of o.notes) rows.push(`  · ${n}`);
  }
  const cells = rows.filter((r): r is string[] => Array.isArray(r));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map((r) => (typeof r === "string" ? r : line(r)))].join("\n");
}

/** The JSON object: the promised keys of every comparison that ran, as medians. */
export function jsonFigures(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    if ("error" in o) continue;
    for (const s of o.summaries) if (s.spec.json) out[s.spec.key] = s.median;
  }
  return out;
}
