import type { Command } from "commander";
import { version as clientVersion } from "../version.ts";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import { withSession } from "./client/with-session.ts";
import { printWarnings, warnForce } from "./etcd.ts";

/** `plinth version`, `plinth reboot`, `plinth shutdown`, `plinth reset [--graceful]`. */
export function registerMachineVerbs(program: Command): void {
  program
    .command("version")
    .description("print the client's and the target nodes' versions")
    .option("-i, --insecure", "talk to a machine in maintenance mode")
    .option("--client", "only the client's version")
    .action(async (flags: { insecure?: boolean; client?: boolean }, cmd: Command) => {
      process.stdout.write(`Client:\n  Plinth ${clientVersion}\n`);
      if (flags.client) return;
      await withSession(
        cmd,
        async (s) => {
          const res = await remote(s, () => s.machine.version({}, s.callOptions));
          for (const r of answered(res.messages)) {
            const v = r.version;
            process.stdout.write(
              `Server:\n  NODE: ${nodeOf(r, s)}\n  Plinth ${v?.tag ?? "?"} (Node.js ${v?.runtimeVersion ?? "?"}, ${v?.os}/${v?.arch})${r.maintenance ? "\n  maintenance mode: waiting for a config" : ""}\n`,
            );
          }
        },
        { insecure: !!flags.insecure },
      );
    });

  program
    .command("reboot")
    .description("reboot the target nodes (on hosts Plinth does not own: restart the agent and its services)")
    .option("--force", "reboot a control plane even when etcd could lose its quorum (loudly)")
    .action(async (flags: { force?: boolean }, cmd: Command) => {
      if (flags.force) warnForce("rebooting");
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.reboot({ force: !!flags.force }, s.callOptions));
        for (const r of answered(res.messages)) {
          printWarnings(nodeOf(r, s), r.warnings);
          process.stdout.write(`${nodeOf(r, s)}: rebooting (${r.actorId})\n`);
        }
      });
    });

  program
    .command("shutdown")
    .description(
      "shut the target nodes down (on hosts Plinth does not own: stop the services and the agent, which stays down)",
    )
    .option("--force", "shut a control plane down even when etcd could lose its quorum (loudly)")
    .action(async (flags: { force?: boolean }, cmd: Command) => {
      if (flags.force) warnForce("shutting down");
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.shutdown({ force: !!flags.force }, s.callOptions));
        for (const r of answered(res.messages)) {
          printWarnings(nodeOf(r, s), r.warnings);
          process.stdout.write(`${nodeOf(r, s)}: shutting down (${r.actorId})\n`);
        }
      });
    });

  program
    .command("reset")
    .description("stop services, wipe the machine state and return to maintenance mode")
    .option("--graceful", "stop services in dependency order first", true)
    .option("--no-graceful", "stop everything at once")
    .option("--reboot", "reboot after the reset")
    .option("--force", "reset a control plane even when etcd could lose its quorum (loudly)")
    .action(async (flags: { graceful: boolean; reboot?: boolean; force?: boolean }, cmd: Command) => {
      if (flags.force) warnForce("resetting");
      await withSession(cmd, async (s) => {
        const res = await remote(s, () =>
          s.machine.reset(
            { graceful: flags.graceful, reboot: !!flags.reboot, force: !!flags.force },
            s.callOptions,
          ),
        );
        for (const r of answered(res.messages)) {
          printWarnings(nodeOf(r, s), r.warnings);
          process.stdout.write(`${nodeOf(r, s)}: resetting (${r.actorId})\n`);
        }
      });
    });
}
