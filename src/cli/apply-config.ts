import { type Command, Option } from "commander";
import {
  ApplyMode,
  type ResourceChange,
  ResourceChangeAction,
} from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { configError } from "../config/config-issue.ts";
import { parseDuration } from "../config/duration.ts";
import { loadConfig } from "../config/load-config.ts";
import { applyPatches } from "../config/patch/config-patch.ts";
import { stringifyDocuments } from "../config/stringify-config.ts";
import { collect } from "./cli-io.ts";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import type { ApiSession } from "./client/session.ts";
import { withSession } from "./client/with-session.ts";
import { readTextFile } from "./files.ts";
import { readPatchArgs } from "./patch-args.ts";

interface ApplyFlags {
  file?: string;
  insecure?: boolean;
  mode: "auto" | "no-reboot" | "staged" | "try";
  timeout: string;
  confirm?: boolean;
  dryRun?: boolean;
  configPatch: string[];
}

const modes = {
  auto: ApplyMode.AUTO,
  "no-reboot": ApplyMode.NO_REBOOT,
  staged: ApplyMode.STAGED,
  try: ApplyMode.TRY,
};

const actionMarks: Record<number, string> = {
  [ResourceChangeAction.CREATE]: "+",
  [ResourceChangeAction.UPDATE]: "~",
  [ResourceChangeAction.DESTROY]: "-",
};

/** What ApplyConfiguration and ConfigRollback replies have in common. */
export interface ApplyReplyLike {
  readonly modeDetails: string;
  readonly warnings: readonly string[];
  readonly diff: string;
  readonly resourceChanges: readonly ResourceChange[];
  readonly restartFields: readonly string[];
}

/** Prints one node's reply; a dry run also shows the config diff and the resources that would change. */
export function printApplyReply(reply: ApplyReplyLike, prefix: string, dryRun: boolean): void {
  if (dryRun) {
    process.stdout.write(`${prefix}${reply.diff || "no changes\n"}`);
    if (reply.resourceChanges.length === 0) process.stdout.write(`${prefix}no resources would change\n`);
    else process.stdout.write(`${prefix}resources that would change (+ create, ~ update, - destroy):\n`);
    for (const c of reply.resourceChanges) {
      process.stdout.write(`${prefix}  ${actionMarks[c.action] ?? "?"} ${c.namespace}/${c.type}/${c.id}\n`);
    }
    if (reply.restartFields.length > 0) {
      process.stdout.write(`${prefix}needs a restart of the agent: ${reply.restartFields.join(", ")}\n`);
    }
  }
  for (const w of reply.warnings) process.stderr.write(`${prefix}warning: ${w}\n`);
  process.stdout.write(`${prefix}${reply.modeDetails}\n`);
}

const prefixFor = (s: ApiSession, reply: Parameters<typeof nodeOf>[0]) =>
  s.nodes.length > 0 ? `${nodeOf(reply, s)}: ` : "";

/** `plinth apply-config -f FILE` sends a config to machines; `--confirm` keeps a config being tried. */
export function registerApplyConfig(program: Command): void {
  program
    .command("apply-config")
    .description("apply a machine config to the target nodes, or confirm one being tried")
    .option("-f, --file <file>", "the config documents (multi-document YAML)")
    .option(
      "-i, --insecure",
      "talk to a machine in maintenance mode (no client certificate, server not verified)",
    )
    .addOption(
      new Option("-m, --mode <mode>", "how the config takes effect")
        .choices(Object.keys(modes))
        .default("auto"),
    )
    .option("--timeout <duration>", "with --mode try: roll back unless confirmed within this time", "1m")
    .option("--confirm", "keep the config being tried (--mode try) instead of rolling it back")
    .option("--dry-run", "validate and show the diff and the resources that would change; change nothing")
    .option(
      "-p, --config-patch <patch>",
      "@file or inline YAML/JSON patch; repeatable, applied in order",
      collect,
      [],
    )
    .action(async (flags: ApplyFlags, cmd: Command) => {
      if (flags.confirm) {
        if (flags.file !== undefined || flags.dryRun) {
          throw new TypeError(
            "apply-config: --confirm takes no --file or --dry-run: it keeps the config being tried",
          );
        }
        await withSession(cmd, async (s) => {
          const res = await remote(s, () => s.machine.confirmConfiguration({}, s.callOptions));
          for (const reply of answered(res.messages))
            process.stdout.write(`${prefixFor(s, reply)}${reply.response}\n`);
        });
        return;
      }
      if (flags.file === undefined) {
        throw new TypeError("apply-config: --file is required (or --confirm, to keep a config being tried)");
      }
      const timeoutMs = parseDuration(flags.timeout);
      if (timeoutMs === undefined || timeoutMs <= 0) {
        throw new TypeError(
          `--timeout must be a duration like 30s or 2m, current value is '${flags.timeout}'`,
        );
      }
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
              {
                data: new TextEncoder().encode(text),
                mode: modes[flags.mode],
                dryRun: !!flags.dryRun,
                ...(flags.mode === "try"
                  ? {
                      tryTimeout: {
                        seconds: BigInt(Math.floor(timeoutMs / 1000)),
                        nanos: Math.round((timeoutMs % 1000) * 1e6),
                      },
                    }
                  : {}),
              },
              s.callOptions,
            ),
          );
          for (const reply of answered(res.messages))
            printApplyReply(reply, prefixFor(s, reply), !!flags.dryRun);
        },
        { insecure: !!flags.insecure },
      );
    });
}
