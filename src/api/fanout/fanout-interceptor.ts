import type { Message } from "@bufbuild/protobuf";
import type {
  Interceptor,
  StreamRequest,
  StreamResponse,
  Transport,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { isPlinthError, PlinthError } from "../../errors/plinth-error.ts";
import { identityKey } from "../auth/identity.ts";
import { fromConnectError } from "../error-mapping.ts";
import { encodeForwardedCertificate, forwardedCertificateHeader } from "./forwarded-certificate.ts";
import { mergeStreams } from "./merge-streams.ts";
import { nodesHeader, nodeUrl, parseNodes } from "./node-address.ts";
import { errorReply, repliesOf, replyMessage, responseOf, tagReply } from "./replies.ts";

export interface FanoutOptions {
  /**
   * This node's certificate and key (a node certificate: Organization `os:impersonator`) and the
   * API CA, PEM: the node calls the other nodes' APIs with them.
   */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string | readonly string[] };
  /** Port for node names given without one; default 50000. */
  readonly defaultPort?: number;
  /** Deadline of each node's unary call; default 10 s. */
  readonly timeoutMs?: number;
  readonly maxMessageBytes?: number;
  /** Aborting closes the connections to the other nodes. */
  readonly signal?: AbortSignal;
}

interface NodeClient {
  readonly transport: Transport;
  readonly sessions: Http2SessionManager;
}

function asPlinthError(err: unknown): PlinthError {
  return isPlinthError(err) ? err : fromConnectError(err);
}

async function* once<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/**
 * Fans a call out when it carries `nodes` metadata: forwards it to each node's API over mTLS and
 * merges the replies, each tagged with its node. A node that fails to answer (unreachable,
 * denied, erroring) yields a reply carrying only its error; the call as a whole succeeds.
 *
 * The forwarded call is the caller's, not this node's: the node authenticates with its own node
 * certificate and passes the caller's certificate on; the receiving node verifies that
 * certificate itself and applies the caller's roles (see forwarded-certificate.ts, docs/api.md).
 * Goes after the auth interceptor, so a caller must be allowed the RPC here as well.
 */
export function createFanoutInterceptor(options: FanoutOptions): Interceptor {
  const clients = new Map<string, NodeClient>();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const closed = options.signal ?? new AbortController().signal;
  closed.addEventListener(
    "abort",
    () => {
      for (const c of clients.values()) c.sessions.abort();
      clients.clear();
    },
    { once: true },
  );

  function clientFor(node: string): NodeClient {
    const baseUrl = nodeUrl(node, options.defaultPort ?? 50000);
    let client = clients.get(baseUrl);
    if (!client) {
      const { cert, key, ca } = options.tls;
      const sessions = new Http2SessionManager(baseUrl, {}, { cert, key, ca: ca as string | string[] });
      const transport = createGrpcTransport({
        baseUrl,
        sessionManager: sessions,
        readMaxBytes: options.maxMessageBytes,
      });
      client = { transport, sessions };
      clients.set(baseUrl, client);
    }
    return client;
  }

  async function unary(req: UnaryRequest, nodes: string[], header: Headers): Promise<UnaryResponse> {
    const { reply, list } = replyMessage(req.method);
    const answers = await Promise.all(
      nodes.map(async (node): Promise<Message[]> => {
        try {
          const signal = AbortSignal.any([req.signal, closed]);
          const res = await clientFor(node).transport.unary(
            req.method,
            signal,
            timeoutMs,
            header,
            req.message,
          );
          const replies = repliesOf(list!, res.message);
          for (const r of replies) tagReply(reply, r, node);
          return replies;
        } catch (err) {
          return [errorReply(reply, node, asPlinthError(err))];
        }
      }),
    );
    return {
      stream: false,
      service: req.service,
      method: req.method,
      header: new Headers(),
      trailer: new Headers(),
      message: responseOf(req.method.output, list!, answers.flat()),
    };
  }

  async function stream(req: StreamRequest, nodes: string[], header: Headers): Promise<StreamResponse> {
    const { reply } = replyMessage(req.method);
    const input: Message[] = [];
    for await (const m of req.message) input.push(m);
    const stop = new AbortController();
    const signal = AbortSignal.any([req.signal, closed, stop.signal]);

    async function* fromNode(node: string): AsyncIterable<Message> {
      try {
        const res = await clientFor(node).transport.stream(
          req.method,
          signal,
          undefined,
          header,
          once(input),
        );
        for await (const m of res.message) {
          tagReply(reply, m, node);
          yield m;
        }
      } catch (err) {
        if (signal.aborted) return;
        yield errorReply(reply, node, asPlinthError(err));
      }
    }

    return {
      stream: true,
      service: req.service,
      method: req.method,
      header: new Headers(),
      trailer: new Headers(),
      message: mergeStreams(
        nodes.map((n) => fromNode(n)),
        () => stop.abort(),
      ),
    };
  }

  return (next) => async (req) => {
    const nodes = parseNodes(req.header.get(nodesHeader));
    if (nodes.length === 0) return next(req);
    const identity = req.contextValues.get(identityKey);
    // A forwarded call is answered here: the forwarding node sends no `nodes`, and a call that
    // claims to be forwarded must not travel further.
    if (identity.kind === "certificate" && identity.forwardedBy !== undefined) return next(req);
    if (identity.kind !== "certificate") {
      throw new PlinthError(
        "failed_precondition",
        `cannot forward to nodes ${nodes.join(", ")}: the call carries no client certificate to forward`,
      );
    }
    const header = new Headers({
      [forwardedCertificateHeader]: encodeForwardedCertificate(identity.certificate),
    });
    return req.stream ? stream(req, nodes, header) : unary(req, nodes, header);
  };
}
