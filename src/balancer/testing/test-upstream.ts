import { createServer, type Server, type Socket } from "node:net";
import { listen } from "../listen.ts";
import { upstreamKey } from "../upstream-address.ts";

/**
 * An upstream for tests on a loopback address: answers each chunk with `<name>:<chunk>`, counts
 * the connections that carried data (health checks carry none), and can be killed and revived
 * on the same port.
 */
export interface TestUpstream {
  readonly name: string;
  readonly key: string;
  /** Connections that sent at least one byte. */
  readonly served: number;
  readonly open: ReadonlySet<Socket>;
  /** Stops listening and resets every open connection, as a crashed process would. */
  kill(): Promise<void>;
  /** Listens again on the same address and port. */
  revive(): Promise<void>;
}

/** `port` 0 (the default) takes a free one. */
export async function startTestUpstream(host: string, name = host, fixedPort = 0): Promise<TestUpstream> {
  const open = new Set<Socket>();
  let served = 0;
  let server: Server | undefined;
  let port = fixedPort;
  const start = async () => {
    server = createServer((socket) => {
      open.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => open.delete(socket));
      socket.once("data", () => served++);
      socket.on("data", (chunk) => socket.write(`${name}:${chunk}`));
    });
    port = (await listen(server, host, port)).port;
  };
  await start();
  return {
    name,
    get key() {
      return upstreamKey(host, port);
    },
    get served() {
      return served;
    },
    open,
    async kill() {
      const s = server;
      server = undefined;
      const closed = new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
    revive: start,
  };
}
