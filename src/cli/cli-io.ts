import { homedir } from "node:os";

/** What a command reads from and writes to besides files; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly homedir: string;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  homedir: homedir(),
};

/** Collects repeated flag values, e.g. several `--config-patch`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
