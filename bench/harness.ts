/** Small helpers shared by the benchmarks: percentiles, timing and output. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** Target, and whether higher is better. */
  readonly target?: { readonly value: number; readonly higherIsBetter: boolean };
}

export interface BenchOptions {
  readonly json: boolean;
  readonly args: readonly string[];
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function printFigures(title: string, figures: readonly Figure[]): void {
  const rows = figures.map((f) => {
    const verdict = f.target
      ? (f.target.higherIsBetter ? f.value >= f.target.value : f.value <= f.target.value)
        ? "met"
        : "MISSED"
      : "";
    const target = f.target
      ? `${f.target.higherIsBetter ? ">=" : "<"} ${f.target.value.toLocaleString("en")}`
      : "";
    const ratio = f.target
      ? `${round(f.target.higherIsBetter ? f.value / f.target.value : f.target.value / f.value, 2)}x`
      : "";
    return [f.label, `${f.value.toLocaleString("en")} ${f.unit}`, target, ratio, verdict];
  });
  const headers = ["figure", "measured", "target", "vs target", ""];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`\n${title}\n${line(headers)}\n${rows.map(line).join("\n")}\n`);
}
