import type { Host } from "../../host/host.ts";

/**
 * Runs `ip <args>`; a failure throws an Error whose message is iproute2's own (`Cannot find
 * device "eth9"`), which statuses show as is.
 */
export async function ip(host: Host, args: readonly string[], signal?: AbortSignal): Promise<void> {
  const r = await host.run("ip", args, { timeoutMs: 10_000, ...(signal ? { signal } : {}) });
  if (r.code !== 0) {
    throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim() || `exit code ${r.code}`}`);
  }
}
