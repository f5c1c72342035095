import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import { AddressStatus, DriftStatus, LinkStatus, RouteSpec, RouteStatus } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { ip, rereader } from "../internal/ip-command.ts";
import { type ObservedRoute, readRoutes } from "../internal/netlink.ts";
import {
  configRevisionInput,
  type OperatorOptions,
  requeue,
  retryRefused,
  unrelatedConfigChange,
} from "../internal/operator-options.ts";

export const routeControllerName = "RouteController";

type Spec = SpecOf<typeof RouteSpec>;
type Status = SpecOf<typeof RouteStatus>;
type RouteKey = Pick<Spec, "destination" | "gateway" | "link" | "metric" | "family">;

/**
 * Keeps the routes the specs ask for in the main table (`ip route replace … proto static`) and
 * reports each as observed. Routes Plinth added are deleted with their spec, or when the spec
 * moves the route. A route the kernel refuses (a gateway no link reaches, a missing link) is an
 * error in that route's status only. Woken by link and address changes, which make routes
 * possible or take them away.
 */
export function createRouteController(options: OperatorOptions): Controller {
  const unrelated = unrelatedConfigChange();
  const next = retryRefused(options);
  const { host } = options;
  return {
    name: routeControllerName,
    inputs: [
      { namespace: "network", type: RouteSpec.type, kind: "weak" },
      { namespace: "network", type: LinkStatus.type, kind: "weak" },
      { namespace: "network", type: AddressStatus.type, kind: "weak" },
      configRevisionInput,
    ],
    outputs: [
      { type: RouteStatus.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const { signal } = ctx;
      const drift = await openDriftLog(ctx, { domain: "route", now: options.now });
      const specs = (await ctx.list(RouteSpec.kind())) as Resource<Spec>[];
      if (
        unrelated(
          drift.revision,
          specs.map((r) => r.spec),
        )
      )
        return requeue(options);
      const read = rereader(host, readRoutes);
      const wanted = new Map(specs.map((s) => [s.metadata.id, s.spec]));
      const previous = new Map(
        ((await ctx.list(RouteStatus.kind())) as Resource<Status>[]).map((r) => [r.metadata.id, r.spec]),
      );
      const created = new Set<string>();
      const errors = new Map<string, string>();

      let routes = await read();
      for (const [id, status] of previous) {
        const spec = wanted.get(id);
        if (!status.createdByPlinth) continue;
        if (spec && sameRoute(spec, status)) {
          created.add(id);
          continue;
        }
        if (!routes.some((r) => matches(status, r))) continue;
        await ip(host, [`-${status.family}`, "route", "delete", ...routeArgs(status)], signal).then(
          () => ctx.log.info({ route: id }, "route deleted with its spec"),
          (err) => ctx.log.warn({ err, route: id }, "cannot delete route"),
        );
      }
      routes = await read();

      for (const [id, spec] of wanted) {
        if (routes.some((r) => matches(spec, r))) continue;
        try {
          if (previous.get(id)?.specHash === fingerprint(spec)) {
            await drift.detected(id, { item: `route ${id}`, expected: describe(spec), found: "missing" });
          }
          await ip(
            host,
            [`-${spec.family}`, "route", "replace", ...routeArgs(spec), "proto", "static"],
            signal,
          );
          created.add(id);
        } catch (err) {
          errors.set(id, `cannot add route ${describe(spec)}: ${messageOf(err)}`);
        }
      }
      routes = await read();

      const out = ctx.track(RouteStatus.kind());
      for (const [id, spec] of wanted) {
        const error = errors.get(id);
        await (error ? drift.repairFailed(id, error) : drift.inSync(id));
        const found = routes.find((r) => matches(spec, r));
        const status: Status = compact({
          ...spec,
          device: found?.link,
          present: found !== undefined,
          protocol: found?.protocol,
          createdByPlinth: created.has(id),
          specHash: error ? undefined : fingerprint(spec),
          error,
        });
        await out.apply(canonical(RouteStatus, id, status));
      }
      await out.cleanup();
      return next(errors.size);
    },
  };
}

function matches(spec: RouteKey, r: ObservedRoute): boolean {
  return (
    r.family === spec.family &&
    r.destination === spec.destination &&
    r.metric === spec.metric &&
    (spec.gateway === undefined || r.gateway === spec.gateway) &&
    (spec.link === undefined || r.link === spec.link)
  );
}

function sameRoute(a: RouteKey, b: RouteKey): boolean {
  return (
    a.family === b.family &&
    a.destination === b.destination &&
    a.metric === b.metric &&
    a.gateway === b.gateway &&
    a.link === b.link
  );
}

function routeArgs(r: RouteKey): string[] {
  return [
    r.destination,
    ...(r.gateway !== undefined ? ["via", r.gateway] : []),
    ...(r.link !== undefined ? ["dev", r.link] : []),
    "metric",
    String(r.metric),
  ];
}

function describe(r: RouteKey): string {
  return routeArgs(r).join(" ");
}
