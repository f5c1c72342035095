import type { Command } from "commander";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import { withSession } from "./client/with-session.ts";
import { renderTable } from "./output/table.ts";

/** `plinth services [ID]` and `plinth service ID start|stop|restart`. */
export function registerServices(program: Command): void {
  program
    .command("services")
    .description("list the services of the target nodes")
    .argument("[id]", "only this service")
    .action(async (id: string | undefined, _flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.serviceList({}, s.callOptions));
        const showNode = s.nodes.length > 0;
        const rows: string[][] = [];
        for (const reply of answered(res.messages)) {
          for (const svc of reply.services) {
            if (id && svc.id !== id) continue;
            const health = svc.health?.unknown ? "?" : svc.health?.healthy ? "OK" : "FAIL";
            rows.push([
              ...(showNode ? [nodeOf(reply, s)] : []),
              svc.id,
              svc.state,
              health,
              svc.health?.lastMessage ?? "",
            ]);
          }
        }
        process.stdout.write(
          `${renderTable([...(showNode ? ["NODE"] : []), "SERVICE", "STATE", "HEALTH", "MESSAGE"], rows)}\n`,
        );
      });
    });

  program
    .command("service")
    .description("start, stop or restart a service")
    .argument("<id>", "the service")
    .argument("<action>", "start, stop or restart")
    .action(async (id: string, action: string, _flags: unknown, cmd: Command) => {
      const calls = {
        start: "serviceStart",
        stop: "serviceStop",
        restart: "serviceRestart",
      } as const;
      const method = calls[action as keyof typeof calls];
      if (!method)
        throw new TypeError(`service: action must be start, stop or restart, current value is '${action}'`);
      await withSession(cmd, async (s) => {
        const call = (): Promise<{
          messages: { response: string; metadata?: { node: string; error: string; code: string } }[];
        }> => s.machine[method]({ id }, s.callOptions);
        const res = await remote(s, call);
        for (const r of answered(res.messages)) {
          process.stdout.write(`${s.nodes.length > 0 ? `${nodeOf(r, s)}: ` : ""}${r.response}\n`);
        }
      });
    });
}
