import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { createContextKey } from "@connectrpc/connect";
import { Cluster } from "../../api/gen/sidero/discovery/server/cluster_pb.ts";
import type { IpAddress } from "../../config/net/ip.ts";
import type { CallContext, ClusterHandlers } from "./cluster-handlers.ts";

/** The client's address, set per request by the server's `contextValues`. */
export const clientIpKey = createContextKey<IpAddress | undefined>(undefined, {
  description: "discovery client IP",
});

function callContext(ctx: HandlerContext): CallContext {
  const timeoutMs = ctx.timeoutMs();
  return {
    clientIp: ctx.values.get(clientIpKey),
    signal: ctx.signal,
    ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
  };
}

/** Registers the Cluster service on a connect router (Connect, gRPC-Web and gRPC clients). */
export function clusterRoutes(handlers: ClusterHandlers): (router: ConnectRouter) => void {
  return (router) =>
    router.service(Cluster, {
      hello: (req, ctx) => handlers.hello(req, callContext(ctx)),
      affiliateUpdate: (req, ctx) => handlers.affiliateUpdate(req, callContext(ctx)),
      affiliateDelete: (req, ctx) => handlers.affiliateDelete(req, callContext(ctx)),
      list: (req, ctx) => handlers.list(req, callContext(ctx)),
      watch: (req, ctx) => handlers.watch(req, callContext(ctx)),
    });
}
