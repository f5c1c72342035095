import type { Server } from "node:net";
import { PlinthError } from "../errors/plinth-error.ts";
import { upstreamKey } from "./upstream-address.ts";

const reasons: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "the address is not one of this host's",
};

/**
 * Binds a server, translating the OS errors a user can act on into a PlinthError that names the
 * address (the OS error stays as `cause`).
 */
export function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const reason = (err.code && reasons[err.code]) ?? err.message;
      reject(
        new PlinthError("failed_precondition", `Cannot listen on ${upstreamKey(host, port)}: ${reason}`, {
          cause: err,
          details: { host, port },
        }),
      );
    };
    const onListening = () => {
      server.off("error", onError);
      const bound = server.address();
      resolve(typeof bound === "object" && bound ? { host, port: bound.port } : { host, port });
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host, port, exclusive: true });
  });
}
