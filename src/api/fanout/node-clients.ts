import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GuardedHttp2SessionManager } from "../client/http2-session-manager.ts";
import { nodeUrl } from "./node-address.ts";

export interface NodeClientsOptions {
  /**
   * This node's certificate and key (a node certificate: Organization `os:impersonator`) and the
   * API CA, PEM: the node calls the other nodes' APIs with them.
   */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string | readonly string[] };
  /** Port for node names given without one; default 50000. */
  readonly defaultPort?: number;
  readonly maxMessageBytes?: number;
  /** Aborting closes every connection. */
  readonly signal?: AbortSignal;
}

/** gRPC connections to other nodes' APIs over mTLS, one HTTP/2 session per node, reused. */
export interface NodeClients {
  /** Throws invalid_argument for a node name that is not a host with an optional port. */
  transportFor(node: string): Transport;
}

export function createNodeClients(options: NodeClientsOptions): NodeClients {
  const sessions = new Map<string, { transport: Transport; manager: GuardedHttp2SessionManager }>();
  options.signal?.addEventListener(
    "abort",
    () => {
      for (const s of sessions.values()) s.manager.abort();
      sessions.clear();
    },
    { once: true },
  );
  return {
    transportFor(node) {
      const baseUrl = nodeUrl(node, options.defaultPort ?? 50000);
      let session = sessions.get(baseUrl);
      if (!session) {
        const { cert, key, ca } = options.tls;
        const manager = new GuardedHttp2SessionManager(
          baseUrl,
          {},
          { cert, key, ca: ca as string | string[] },
        );
        const transport = createGrpcTransport({
          baseUrl,
          sessionManager: manager,
          readMaxBytes: options.maxMessageBytes,
        });
        session = { transport, manager };
        if (!options.signal?.aborted) sessions.set(baseUrl, session);
      }
      return session.transport;
    },
  };
}
