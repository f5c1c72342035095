const mib = 1024 * 1024;

/** What a node must have free to count as healthy; `plinth health --min-memory/--min-disk` override. */
export interface ResourceMinimums {
  readonly memoryBytes: number;
  readonly diskBytes: number;
}

/** Enough for the agent, etcd and a few services to keep running and writing. */
export const defaultMinimums: ResourceMinimums = { memoryBytes: 128 * mib, diskBytes: 256 * mib };

/** "1.5 GiB", "300 MiB": sizes in messages. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}

/** "512Mi", "2Gi", "1G", "300M", "1048576": a size flag, in bytes; undefined when not one. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(|k|ki|m|mi|g|gi|t|ti)b?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const power = { "": 0, k: 1, m: 2, g: 3, t: 4 }[unit[0] ?? ""] ?? 0;
  const base = unit.endsWith("i") ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** (unit === "" ? 0 : power));
}
