import type { Command } from "commander";
import { describeRemoteError } from "./client/remote-call.ts";
import { withSession } from "./client/with-session.ts";

interface LogsFlags {
  follow?: boolean;
  tail: number;
}

function nonNegative(value: string): number {
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
    .option("--tail <lines>", "start with the last N lines (-1: all kept)", nonNegative, -1)
    .action(async (service: string, flags: LogsFlags, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once("SIGINT", stop);
        try {
          const stream = s.machine.logs(
            { id: service, follow: !!flags.follow, tailLines: flags.tail },
            { ...s.callOptions, signal: ac.signal },
          );
          for await (const m of stream) {
            if (m.metadata?.error) {
              process.stderr.write(`plinth: node ${m.metadata.node || "?"}: ${m.metadata.error}\n`);
              process.exitCode = 1;
              continue;
            }
            const text = new TextDecoder().decode(m.data);
            if (s.nodes.length > 0) {
              const node = m.metadata?.node ?? "";
              process.stdout.write(text.replace(/^(?=.)/gm, `${node}: `));
            } else process.stdout.write(text);
          }
        } catch (err) {
          if (!ac.signal.aborted) throw describeRemoteError(err, s);
        } finally {
          process.off("SIGINT", stop);
        }
      });
    });
}
