import type {
  DescMethod,
  DescMethodStreaming,
  DescMethodUnary,
  DescService,
  Message,
} from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { isPlinthError, PlinthError } from "../../errors/plinth-error.ts";
import { identityKey } from "../auth/identity.ts";
import { fromConnectError } from "../error-mapping.ts";
import { encodeForwardedCertificate, forwardedCertificateHeader } from "./forwarded-certificate.ts";
import { mergeStreams } from "./merge-streams.ts";
import { nodesHeader, parseNodes } from "./node-address.ts";
import type { NodeClients } from "./node-clients.ts";
import { errorReply, repliesOf, replyShape, responseOf, tagReply } from "./replies.ts";

export interface FanoutOptions {
  readonly clients: NodeClients;
  /** Deadline of each node's unary call; default 10 s. */
  readonly timeoutMs?: number;
}

type AnyImpl = (req: Message, ctx: HandlerContext) => unknown;

function asPlinthError(err: unknown): PlinthError {
  return isPlinthError(err) ? err : fromConnectError(err);
}

async function* once<T>(item: T): AsyncIterable<T> {
  yield item;
}

/** The caller's certificate to pass on, or undefined when the call is answered here. */
function forwardingHeader(nodes: string[], ctx: HandlerContext): Headers | undefined {
  if (nodes.length === 0) return undefined;
  const identity = ctx.values.get(identityKey);
  // A forwarded call is answered here: the forwarding node sends no `nodes`, and a call that
  // claims to be forwarded must not travel further.
  if (identity.kind === "certificate" && identity.forwardedBy !== undefined) return undefined;
  if (identity.kind !== "certificate") {
    throw new PlinthError(
      "failed_precondition",
      `cannot forward to nodes ${nodes.join(", ")}: the call carries no client certificate to forward`,
    );
  }
  return new Headers({ [forwardedCertificateHeader]: encodeForwardedCertificate(identity.certificate) });
}

/**
 * Wraps one RPC's implementation: a call that carries `nodes` metadata is forwarded to each
 * node's API over mTLS and the replies are merged, each tagged with its node. A node that fails
 * to answer (unreachable, refusing, erroring) yields a reply holding only its error; the call as
 * a whole succeeds. Without `nodes` the implementation answers (unimplemented when absent).
 *
 * The forwarded call is the caller's, not this node's: the node authenticates with its own node
 * certificate and passes the caller's certificate on; the receiving node verifies it and applies
 * the caller's roles (see forwarded-certificate.ts and docs/api.md). The auth interceptor ran
 * before, so the caller must be allowed the RPC here as well.
 */
export function withFanout(method: DescMethod, impl: AnyImpl | undefined, options: FanoutOptions): AnyImpl {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const rpc = `${method.parent.typeName}/${method.name}`;
  const local: AnyImpl =
    impl ??
    (() => {
      throw new PlinthError("unimplemented", `${rpc} is not implemented`);
    });
  const shape = replyShape(method);
  if (!shape) {
    // Not shaped for merging (e.g. a wire-compatible foreign service): answered here only.
    return (req, ctx) => {
      if (parseNodes(ctx.requestHeader.get(nodesHeader)).length > 0) {
        throw new PlinthError("invalid_argument", `${rpc} cannot be fanned out to nodes`);
      }
      return local(req, ctx);
    };
  }
  const { reply, list } = shape;

  if (method.methodKind === "unary") {
    const unary = method as DescMethodUnary;
    return async (req, ctx) => {
      const nodes = parseNodes(ctx.requestHeader.get(nodesHeader));
      const header = forwardingHeader(nodes, ctx);
      if (!header) return local(req, ctx);
      const answers = await Promise.all(
        nodes.map(async (node): Promise<Message[]> => {
          try {
            const transport = options.clients.transportFor(node);
            const res = await transport.unary(unary, ctx.signal, timeoutMs, header, req);
            const replies = repliesOf(list!, res.message);
            for (const r of replies) tagReply(reply, r, node);
            return replies;
          } catch (err) {
            return [errorReply(reply, node, asPlinthError(err))];
          }
        }),
      );
      return responseOf(method.output, list!, answers.flat());
    };
  }

  if (method.methodKind !== "server_streaming") {
    throw new TypeError(
      `Cannot fan out ${method.parent.typeName}/${method.name}: ${method.methodKind} is not supported`,
    );
  }
  const streaming = method as DescMethodStreaming;
  return (req, ctx) => {
    const nodes = parseNodes(ctx.requestHeader.get(nodesHeader));
    const header = forwardingHeader(nodes, ctx);
    if (!header) return local(req, ctx);
    const stop = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    async function* fromNode(node: string): AsyncIterable<Message> {
      try {
        const transport = options.clients.transportFor(node);
        const res = await transport.stream(streaming, signal, undefined, header, once(req));
        for await (const m of res.message) {
          tagReply(reply, m, node);
          yield m;
        }
      } catch (err) {
        if (signal.aborted) return;
        yield errorReply(reply, node, asPlinthError(err));
      }
    }
    return mergeStreams(
      nodes.map((n) => fromNode(n)),
      () => stop.abort(),
    );
  };
}

/** The service's implementation with every RPC fanned out (see withFanout). */
export function withServiceFanout<T extends DescService>(
  service: T,
  impl: Partial<ServiceImpl<T>>,
  options: FanoutOptions,
): ServiceImpl<T> {
  const wrapped: Record<string, AnyImpl> = {};
  const impls = impl as Record<string, AnyImpl | undefined>;
  for (const m of service.methods)
    wrapped[m.localName] = withFanout(m, impls[m.localName]?.bind(impl), options);
  return wrapped as unknown as ServiceImpl<T>;
}

/** A router whose services are registered with fan-out; single `rpc` registrations are not. */
export function fanoutRouter(router: ConnectRouter, options: FanoutOptions): ConnectRouter {
  const wrapper: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, impl, o) {
      router.service(service, withServiceFanout(service, impl, options), o);
      return wrapper;
    },
    rpc(method, impl, o) {
      router.rpc(method, impl, o);
      return wrapper;
    },
  };
  return wrapper;
}
