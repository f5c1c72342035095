import type { Host } from "../../host/host.ts";

/**
 * Runs `ip <args>`; a failure throws an Error whose message is iproute2's own (`Cannot find
 * device "eth9"`), which statuses show as is.
 */
export async function ip(host: Host, args: readonly string[], signal?: AbortSignal): Promise<void> {
  changes.set(host, (changes.get(host) ?? 0) + 1);
  const r = await host.run("ip", args, { timeoutMs: 10_000, ...(signal ? { signal } : {}) });
  if (r.code !== 0) {
    throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim() || `exit code ${r.code}`}`);
  }
}

const changes = new WeakMap<Host, number>();

/**
 * A reader for one reconcile that asks iproute2 again only after an `ip` change on the host
 * (forking `ip` from a large process is the dominant cost of the network controllers).
 */
export function rereader<T>(host: Host, read: (host: Host) => Promise<T>): () => Promise<T> {
  let seen = -1;
  let value: T;
  return async () => {
    const now = changes.get(host) ?? 0;
    if (now !== seen) {
      value = await read(host);
      seen = now;
    }
    return value;
  };
}
