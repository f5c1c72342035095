import type { Command } from "commander";
import { readStream } from "./client/stream.ts";
import { withSession } from "./client/with-session.ts";

interface LogsFlags {
  follow?: boolean;
  tail: number;
}

function tailLines(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < -1)
    throw new TypeError(`--tail must be a whole number >= -1, current value is '${value}'`);
  return n;
}

/** `plinth logs SERVICE [-f] [--tail N]`; `agent` is the agent's own log. */
export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("print a service's logs ('agent' for the agent's own)")
    .argument("<service>", "the service")
    .option("-f, --follow", "keep printing new lines")
    .option("--tail <lines>", "start with the last N lines (-1: all kept)", tailLines, -1)
    .action(async (service: string, flags: LogsFlags, cmd: Command) => {
      await withSession(cmd, async (s) => {
        await readStream(
          s,
          (signal) =>
            s.machine.logs(
              { id: service, follow: !!flags.follow, tailLines: flags.tail },
              { ...s.callOptions, signal },
            ),
          (m, node) => {
            const text = new TextDecoder().decode(m.data);
            process.stdout.write(s.nodes.length > 0 ? text.replace(/^(?=.)/gm, `${node}: `) : text);
          },
        );
      });
    });
}
