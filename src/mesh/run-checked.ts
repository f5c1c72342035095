import type { Host, RunOptions } from "../agent/host/host.ts";
import { PlinthError } from "../errors/plinth-error.ts";

/**
 * Runs a program on the host and fails with its stderr on a non-zero exit. The message shows the
 * arguments (never key material: keys travel on stdin only).
 * @internal
 */
export async function runChecked(
  host: Host,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const r = await host.run(command, args, options);
  if (r.code !== 0) {
    throw new PlinthError(
      "internal",
      `${command} ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`,
      {
        details: { command, args: [...args], exitCode: r.code },
      },
    );
  }
  return r.stdout;
}

/**
 * Runs `wg` with `input` readable as /dev/stdin. The host adapter's stdin is a socket, which
 * `wg` cannot open by path (ENXIO), so a shell puts a pipe in between; keys stay off argv.
 * @internal
 */
export function runWg(
  host: Host,
  args: readonly string[],
  input: string,
  signal?: AbortSignal,
): Promise<string> {
  return runChecked(host, "sh", ["-c", 'cat | exec wg "$@"', "wg", ...args], { input, signal });
}

/** Link names the kernel accepts: 1–15 characters, no slash, colon or whitespace. @internal */
export function requireLinkName(name: unknown, field = "name"): asserts name is string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
    throw new TypeError(
      `'${field}' must be a link name of 1-15 letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`,
    );
  }
}

/** @internal */
export function requireInteger(
  value: unknown,
  field: string,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `'${field}' must be an integer from ${min} to ${max}, current value is ${String(value)}`,
    );
  }
}
