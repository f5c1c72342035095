// Runs inside a sandbox (see sandboxed-balancer.ts): test upstreams, a balancer and its clients
// in the sandbox's network namespace, driven by JSON lines on stdin, one answer line each.

import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { type Balancer, type BalancerSettings, startBalancer } from "../index.ts";
import { exchange, openClient, request } from "./loopback-client.ts";
import { startTestUpstream, type TestUpstream } from "./test-upstream.ts";

interface Command {
  readonly id: number;
  readonly op: string;
  readonly [key: string]: unknown;
}

const upstreams: TestUpstream[] = [];
const sockets: Socket[] = [];
let balancer: Balancer | undefined;

const handlers: Record<string, (c: Command) => Promise<unknown>> = {
  async upstreams(c) {
    for (const host of c.hosts as string[]) {
      upstreams.push(await startTestUpstream(host, host, (c.port as number | undefined) ?? 0));
    }
    return upstreams.map((u) => u.key);
  },
  async start(c) {
    balancer = await startBalancer(c.settings as BalancerSettings);
    return balancer.address;
  },
  async reconfigure(c) {
    await balancer!.reconfigure(c.settings as BalancerSettings);
    return balancer!.status();
  },
  status: async () => balancer!.status(),
  async close() {
    await balancer?.close();
    balancer = undefined;
    return null;
  },
  /** `count` short connections one after another; each answer, or the error's message. */
  async requests(c) {
    const answers: string[] = [];
    for (let i = 0; i < (c.count as number); i++) {
      answers.push(await request(c.port as number).catch((err: Error) => `error: ${err.message}`));
    }
    return answers;
  },
  async open(c) {
    sockets.push(await openClient(c.port as number));
    return sockets.length - 1;
  },
  exchange: (c) =>
    exchange(sockets[c.socket as number]!, c.text as string).catch((e: Error) => `error: ${e.message}`),
  served: async () => upstreams.map((u) => u.served),
  async kill(c) {
    await upstreams[c.upstream as number]!.kill();
    return null;
  },
  async revive(c) {
    await upstreams[c.upstream as number]!.revive();
    return null;
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command;
  const handler = handlers[command.op];
  const answer = handler
    ? await handler(command).then(
        (result) => ({ id: command.id, result }),
        (err: unknown) => ({ id: command.id, error: err instanceof Error ? err.message : String(err) }),
      )
    : { id: command.id, error: `unknown op ${command.op}` };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
for (const s of sockets) s.destroy();
await balancer?.close();
await Promise.all(upstreams.map((u) => u.kill()));
