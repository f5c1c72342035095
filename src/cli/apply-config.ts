import { type Command, Option } from "commander";
import { ApplyMode } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { configError } from "../config/config-issue.ts";
import { loadConfig } from "../config/load-config.ts";
import { applyPatches } from "../config/patch/config-patch.ts";
import { stringifyDocuments } from "../config/stringify-config.ts";
import { collect } from "./cli-io.ts";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import { withSession } from "./client/with-session.ts";
import { readTextFile } from "./files.ts";
import { readPatchArgs } from "./patch-args.ts";

interface ApplyFlags {
  file: string;
  insecure?: boolean;
  mode: "auto" | "no-reboot" | "staged" | "try";
  dryRun?: boolean;
  configPatch: string[];
}

const modes = {
  auto: ApplyMode.AUTO,
  "no-reboot": ApplyMode.NO_REBOOT,
  staged: ApplyMode.STAGED,
  try: ApplyMode.TRY,
};

/** `plinth apply-config -f FILE`: sends a config to machines. */
export function registerApplyConfig(program: Command): void {
  program
    .command("apply-config")
    .description("apply a machine config to the target nodes")
    .requiredOption("-f, --file <file>", "the config documents (multi-document YAML)")
    .option(
      "-i, --insecure",
      "talk to a machine in maintenance mode (no client certificate, server not verified)",
    )
    .addOption(
      new Option("-m, --mode <mode>", "how the config takes effect")
        .choices(Object.keys(modes))
        .default("auto"),
    )
    .option("--dry-run", "validate and show the diff; change nothing")
    .option(
      "-p, --config-patch <patch>",
      "@file or inline YAML/JSON patch; repeatable, applied in order",
      collect,
      [],
    )
    .action(async (flags: ApplyFlags, cmd: Command) => {
      let text = await readTextFile(flags.file, "config");
      if (flags.configPatch.length > 0) {
        const input = loadConfig(text, { partial: true });
        if (!input.ok) throw configError(input.issues, flags.file);
        text = stringifyDocuments(
          applyPatches(input.raw, await readPatchArgs(flags.configPatch, "--config-patch")),
        );
      }
      await withSession(
        cmd,
        async (s) => {
          const res = await remote(s, () =>
            s.machine.applyConfiguration(
              { data: new TextEncoder().encode(text), mode: modes[flags.mode], dryRun: !!flags.dryRun },
              s.callOptions,
            ),
          );
          for (const reply of answered(res.messages)) {
            const prefix = s.nodes.length > 0 ? `${nodeOf(reply, s)}: ` : "";
            if (flags.dryRun) process.stdout.write(`${prefix}${reply.diff || "no changes\n"}`);
            for (const w of reply.warnings) process.stderr.write(`${prefix}warning: ${w}\n`);
            process.stdout.write(`${prefix}${reply.modeDetails}\n`);
          }
        },
        { insecure: !!flags.insecure },
      );
    });
}
