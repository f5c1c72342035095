import { type Command, Option } from "commander";
import { type ValidationMode, validationModes } from "../config/checks/check-context.ts";
import { loadConfig, validateConfigValues } from "../config/load-config.ts";
import { applyPatches } from "../config/patch/config-patch.ts";
import { stringifyDocuments } from "../config/stringify-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { type CliIo, collect, processIo } from "./cli-io.ts";
import { printConfigError, printIssues } from "./config-issues-output.ts";
import { readTextFile, writeFileAtomic } from "./files.ts";
import { readPatchArgs } from "./patch-args.ts";

interface PatchFlags {
  patch: string[];
  output?: string;
  mode: ValidationMode;
}

/** `plinth machineconfig patch FILE --patch @p.yaml [-o out]` */
export function registerMachineconfig(program: Command): void {
  const group = program.command("machineconfig").alias("mc").description("work with machine config files");
  group
    .command("patch")
    .description("apply strategic merge or JSON patches to a config, validate the result, print or write it")
    .argument("<file>", "the config to patch")
    .option("-p, --patch <patch>", "@file or inline YAML/JSON; repeatable, applied in order", collect, [])
    .option("-o, --output <file>", "write the result here instead of printing it")
    .addOption(
      new Option("-m, --mode <mode>", "validation mode of the result")
        .choices([...validationModes])
        .default("host"),
    )
    .action(async (file: string, flags: PatchFlags) => {
      process.exitCode = await runMachineconfigPatch(file, flags);
    });
}

export async function runMachineconfigPatch(
  file: string,
  flags: PatchFlags,
  io: CliIo = processIo,
): Promise<number> {
  if (flags.patch.length === 0)
    throw new PlinthError("invalid_argument", "--patch is required (@file or inline YAML/JSON)");
  try {
    const input = loadConfig(await readTextFile(file, "config"), { mode: flags.mode });
    if (!input.ok) return printIssues(io, input.issues, file);
    const patched = applyPatches(input.raw, await readPatchArgs(flags.patch, "--patch"));
    const result = validateConfigValues(patched, { mode: flags.mode });
    if (!result.ok) return printIssues(io, result.issues, flags.output ?? `${file} (patched)`);
    const text = stringifyDocuments(patched);
    if (flags.output) {
      await writeFileAtomic(flags.output, text);
      io.out(`wrote ${flags.output}\n`);
    } else {
      io.out(text);
    }
    return 0;
  } catch (err) {
    const code = printConfigError(io, err);
    if (code !== undefined) return code;
    throw err;
  }
}
