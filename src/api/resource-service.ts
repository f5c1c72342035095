import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { PlinthError } from "../errors/plinth-error.ts";
import type { ResourceDefinition } from "../runtime/resource/definition.ts";
import type { ResourceRegistry } from "../runtime/resource/registry.ts";
import type { CoreState } from "../runtime/state/core-state.ts";
import { sensitiveReadRoles } from "./auth/access-table.ts";
import { describeIdentity, hasAnyRole, identityKey } from "./auth/identity.ts";
import type {
  ResourceService,
  WatchRequest,
  WatchResponse,
} from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import { WatchEventType, WatchResponseSchema } from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import {
  expectedPhaseFromWire,
  labelQueryFromWire,
  resourceFromWire,
  resourceToWire,
  watchEventToWire,
} from "./resource-wire.ts";

export interface ResourceServiceOptions {
  readonly state: CoreState;
  readonly registry: ResourceRegistry;
}

function requireField(value: string, field: string, rpc: string): string {
  if (value === "") throw new PlinthError("invalid_argument", `${rpc}: '${field}' must not be empty`);
  return value;
}

/**
 * The ResourceService over a state: reads by type name or alias (the namespace defaults to the
 * type's), with sensitive types hidden from roles that may not read them and private types from
 * everyone; writes pass the resource to the state as they are, so the state's own rules and
 * validation apply.
 */
export function createResourceService(options: ResourceServiceOptions): ServiceImpl<typeof ResourceService> {
  const { state, registry } = options;

  function readable(type: string, rpc: string, ctx: HandlerContext): ResourceDefinition {
    const def = registry.resolve(requireField(type, "type", rpc));
    const identity = ctx.values.get(identityKey);
    if (def.sensitivity === "private") {
      throw new PlinthError(
        "permission_denied",
        `${def.type} is private to the machine: the API serves it to no role, ${describeIdentity(identity)} included`,
      );
    }
    if (def.sensitivity === "sensitive" && !hasAnyRole(identity, sensitiveReadRoles)) {
      throw new PlinthError(
        "permission_denied",
        `${describeIdentity(identity)} may not read ${def.type}: its resources are sensitive (readable by ${sensitiveReadRoles.join(", ")})`,
      );
    }
    return def;
  }

  async function* watch(req: WatchRequest, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const def = readable(req.type, "Watch", ctx);
    const namespace = req.namespace || def.namespace;
    const common = {
      signal: ctx.signal,
      tailEvents: req.tailEvents,
      startFromBookmark: req.startFromBookmark || undefined,
    };
    const labelQuery = labelQueryFromWire(req.labelQuery);
    // The state subscribes when watch() returns; only then is the watch established.
    const events =
      req.id === ""
        ? state.watchKind(
            { namespace, type: def.type },
            { ...common, labelQuery, bootstrapContents: req.bootstrapContents },
          )
        : state.watch(def.ptr(req.id, namespace), common);
    const it = events[Symbol.asyncIterator]();
    // Release the state's watch as soon as the call ends, even while this generator waits at a
    // yield for a reader that is gone (the in-process transport never resumes it).
    const release = () => void it.return?.();
    ctx.signal.addEventListener("abort", release, { once: true });
    try {
      yield create(WatchResponseSchema, { eventType: WatchEventType.ESTABLISHED });
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield watchEventToWire(r.value);
      }
    } finally {
      ctx.signal.removeEventListener("abort", release);
      release();
    }
  }

  return {
    async get(req, ctx) {
      const def = readable(req.type, "Get", ctx);
      const ptr = def.ptr(requireField(req.id, "id", "Get"), req.namespace || def.namespace);
      const resource = await state.get(ptr, { signal: ctx.signal });
      return { messages: [{ resource: resourceToWire(resource) }] };
    },
    async list(req, ctx) {
      const def = readable(req.type, "List", ctx);
      const resources = await state.list(def.kind(req.namespace || def.namespace), {
        signal: ctx.signal,
        labelQuery: labelQueryFromWire(req.labelQuery),
      });
      return { messages: [{ resources: resources.map(resourceToWire) }] };
    },
    watch,
    async create(req, ctx) {
      const stored = await state.create(resourceFromWire(req.resource), {
        owner: req.owner,
        signal: ctx.signal,
      });
      return { messages: [{ resource: resourceToWire(stored) }] };
    },
    async update(req, ctx) {
      const stored = await state.update(resourceFromWire(req.resource), {
        owner: req.owner,
        expectedPhase: expectedPhaseFromWire(req.expectedPhase),
        signal: ctx.signal,
      });
      return { messages: [{ resource: resourceToWire(stored) }] };
    },
    async destroy(req, ctx) {
      const ptr = {
        namespace: requireField(req.namespace, "namespace", "Destroy"),
        type: requireField(req.type, "type", "Destroy"),
        id: requireField(req.id, "id", "Destroy"),
      };
      await state.destroy(ptr, { owner: req.owner, signal: ctx.signal });
      return { messages: [{}] };
    },
  };
}
