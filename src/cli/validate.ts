import { type Command, Option } from "commander";
import { type ValidationMode, validationModes } from "../config/checks/check-context.ts";
import { loadConfig } from "../config/load-config.ts";
import { type CliIo, processIo } from "./cli-io.ts";
import { printIssues } from "./config-issues-output.ts";
import { readTextFile } from "./files.ts";

interface ValidateFlags {
  config: string;
  mode: ValidationMode;
}

/** `plinth validate --config FILE [--mode host|netns|local]` */
export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check a machine config file: schemas of every document, then the rules between them")
    .requiredOption("-c, --config <file>", "the config file to check")
    .addOption(
      new Option(
        "-m, --mode <mode>",
        "where the agent runs: host (owns the machine), netns (local-cluster node), local (a plain process on your machine)",
      )
        .choices([...validationModes])
        .default("host"),
    )
    .action(async (flags: ValidateFlags) => {
      process.exitCode = await runValidate(flags);
    });
}

export async function runValidate(flags: ValidateFlags, io: CliIo = processIo): Promise<number> {
  const text = await readTextFile(flags.config, "--config");
  const result = loadConfig(text, { mode: flags.mode });
  if (!result.ok) return printIssues(io, result.issues, flags.config);
  io.out(`${flags.config} is valid for ${flags.mode} mode\n`);
  return 0;
}
