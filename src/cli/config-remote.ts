import type { Command } from "commander";
import { ApplyMode } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { parseClientConfig, setEndpoints, stringifyClientConfig } from "../config/client-config.ts";
import { parseDuration } from "../config/duration.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { printApplyReply } from "./apply-config.ts";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import { withSession } from "./client/with-session.ts";
import { exists, writeFileAtomic } from "./files.ts";
import { renderTable } from "./output/table.ts";

const modeNames: Record<number, string> = {
  [ApplyMode.UNSPECIFIED]: "startup",
  [ApplyMode.AUTO]: "auto",
  [ApplyMode.NO_REBOOT]: "no-reboot",
  [ApplyMode.STAGED]: "staged",
  [ApplyMode.TRY]: "try",
};

/** `plinth config history|rollback|new`: config verbs that ask a machine. */
export function registerConfigRemote(configGroup: Command): void {
  configGroup
    .command("history")
    .description("list the configs applied to the target nodes, newest first")
    .option("--limit <n>", "at most this many", (v) => Number(v), 0)
    .option("--show <version>", "print the config of this version")
    .action(async (flags: { limit: number; show?: string }, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.configHistory({ limit: flags.limit }, s.callOptions));
        const showNode = s.nodes.length > 0;
        const rows: string[][] = [];
        for (const r of answered(res.messages)) {
          for (const e of r.entries) {
            if (flags.show !== undefined) {
              if (String(e.version) === flags.show) process.stdout.write(new TextDecoder().decode(e.data));
              continue;
            }
            const applied = e.applied ? new Date(Number(e.applied.seconds) * 1000).toISOString() : "";
            rows.push([
              ...(showNode ? [nodeOf(r, s)] : []),
              String(e.version),
              applied,
              modeNames[e.mode] ?? String(e.mode),
              e.appliedBy,
              e.note,
            ]);
          }
        }
        if (flags.show === undefined) {
          process.stdout.write(
            `${renderTable([...(showNode ? ["NODE"] : []), "VERSION", "APPLIED", "MODE", "BY", "NOTE"], rows)}\n`,
          );
        }
      });
    });

  configGroup
    .command("rollback")
    .description(
      "apply an earlier config of the history again (the one before the current config by default), as a new version",
    )
    .argument("[version]", "the version to go back to, as `plinth config history` lists it")
    .option("--dry-run", "show the diff and the resources that would change; change nothing")
    .action(async (version: string | undefined, flags: { dryRun?: boolean }, cmd: Command) => {
      if (version !== undefined && !/^[1-9]\d*$/.test(version)) {
        throw new TypeError(
          `config rollback: VERSION must be a positive whole number, current value is '${version}'`,
        );
      }
      await withSession(cmd, async (s) => {
        const res = await remote(s, () =>
          s.machine.configRollback({ version: BigInt(version ?? 0), dryRun: !!flags.dryRun }, s.callOptions),
        );
        for (const reply of answered(res.messages)) {
          printApplyReply(reply, s.nodes.length > 0 ? `${nodeOf(reply, s)}: ` : "", !!flags.dryRun);
        }
      });
    });

  configGroup
    .command("new")
    .description("ask a control plane to issue a client config for other roles (admin only)")
    .argument("<file>", "where to write the new client config")
    .requiredOption("--roles <roles>", "comma-separated roles, e.g. os:reader or os:operator,os:etcd:backup")
    .option("--crt-ttl <duration>", "certificate lifetime, e.g. 24h or 8760h", "8760h")
    .option("--name <name>", "the certificate's common name and the context's name")
    .option("--force", "overwrite the file")
    .action(
      async (
        file: string,
        flags: { roles: string; crtTtl: string; name?: string; force?: boolean },
        cmd: Command,
      ) => {
        const ttlMs = parseDuration(flags.crtTtl);
        if (ttlMs === undefined || ttlMs <= 0) {
          throw new TypeError(
            `--crt-ttl must be a duration like 24h or 30m, current value is '${flags.crtTtl}'`,
          );
        }
        if (!flags.force && (await exists(file))) {
          throw new PlinthError("already_exists", `${file} exists; pass --force to overwrite it`);
        }
        const roles = flags.roles
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean);
        await withSession(cmd, async (s) => {
          const ttl = { seconds: BigInt(Math.floor(ttlMs / 1000)), nanos: (ttlMs % 1000) * 1e6 };
          const res = await remote(s, () =>
            s.machine.issueClientConfig({ roles, name: flags.name ?? "", ttl }),
          );
          const [reply] = answered(res.messages);
          if (!reply) return;
          let config = parseClientConfig(
            new TextDecoder().decode(reply.clientConfig),
            "issued client config",
          );
          config = setEndpoints(config, [new URL(s.endpoint).host]);
          await writeFileAtomic(file, stringifyClientConfig(config), { mode: 0o600 });
          process.stdout.write(`wrote ${file} (context ${config.context}, roles ${roles.join(", ")})\n`);
        });
      },
    );
}
