import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { isPlinthError } from "../errors/plinth-error.ts";
import { registerDoctor } from "./doctor.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export const version: string = pkg.version;

export function buildProgram(): Command {
  const program = new Command("plinth")
    .description("API-driven, declarative, SSH-free management of Linux machines and their clusters")
    .version(version, "-v, --version", "print the CLI version")
    .showHelpAfterError()
    .exitOverride();
  registerDoctor(program);
  return program;
}

/** Runs the CLI and returns the exit code; errors become one clear line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = isPlinthError(err) ? `${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`plinth: ${message}\n`);
    return 1;
  }
}
