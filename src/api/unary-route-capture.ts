import type { DescMethod, DescMethodUnary, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";

/** One unary RPC's implementation, as a service registered it. */
export interface UnaryRoute {
  readonly method: DescMethodUnary;
  readonly impl: (req: never, ctx: HandlerContext) => unknown;
}

/** "/plinth.machine.v1alpha1.MachineService/Version" → its route. */
export type UnaryRoutes = Map<string, UnaryRoute>;

function record(routes: UnaryRoutes, method: DescMethod, impl: unknown, self: unknown): void {
  if (method.methodKind !== "unary" || typeof impl !== "function") return;
  routes.set(`/${method.parent.typeName}/${method.name}`, {
    method: method as DescMethodUnary,
    impl: impl.bind(self) as UnaryRoute["impl"],
  });
}

/**
 * A router that registers everything with `router` as given and also records the unary
 * implementations in `routes`, for the gRPC fast path to call. A registration with its own
 * handler options (limits, interceptors) is left to connect alone: the fast path could not
 * honour them.
 */
export function captureUnaryRoutes(router: ConnectRouter, routes: UnaryRoutes): ConnectRouter {
  const wrapper: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service: DescService, impl, options) {
      if (options === undefined) {
        const impls = impl as Record<string, unknown>;
        for (const m of service.methods) record(routes, m, impls[m.localName], impl);
      }
      router.service(service, impl, options);
      return wrapper;
    },
    rpc(method, impl, options) {
      if (options === undefined) record(routes, method, impl, undefined);
      router.rpc(method, impl, options);
      return wrapper;
    },
  };
  return wrapper;
}
