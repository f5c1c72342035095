import type { CliIo } from "./cli-io.ts";

/** A CliIo that records what a command prints, for tests. */
export function captureIo(
  env: Record<string, string | undefined> = {},
  homedir = "/nonexistent",
): CliIo & {
  stdout: string;
  stderr: string;
} {
  const io = {
    stdout: "",
    stderr: "",
    env,
    homedir,
    out: (text: string) => {
      io.stdout += text;
    },
    err: (text: string) => {
      io.stderr += text;
    },
  };
  return io;
}
