import { readFile, statfs } from "node:fs/promises";
import { totalmem } from "node:os";

/** Free memory and free disk of one directory's file system, bytes. */
export interface SystemSample {
  readonly memoryAvailableBytes: number;
  readonly memoryTotalBytes: number;
  readonly diskAvailableBytes: number;
  readonly diskTotalBytes: number;
}

/** MemAvailable, else MemFree, of a /proc/meminfo text; bytes. */
export function memAvailable(meminfo: string): number | undefined {
  const line = (key: string) => new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(meminfo)?.[1];
  const kb = line("MemAvailable") ?? line("MemFree");
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** Samples this machine: /proc/meminfo and statfs of `dir`. */
export async function sampleSystem(dir: string): Promise<SystemSample> {
  const [meminfo, fs] = await Promise.all([readFile("/proc/meminfo", "utf8"), statfs(dir)]);
  const available = memAvailable(meminfo);
  if (available === undefined) throw new Error("/proc/meminfo has neither MemAvailable nor MemFree");
  return {
    memoryAvailableBytes: available,
    memoryTotalBytes: totalmem(),
    diskAvailableBytes: fs.bavail * fs.bsize,
    diskTotalBytes: fs.blocks * fs.bsize,
  };
}
