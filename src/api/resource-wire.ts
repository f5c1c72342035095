import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PlinthError } from "../errors/plinth-error.ts";
import type { LabelQuery, LabelTerm } from "../runtime/resource/label-query.ts";
import type { AnyResource, Phase } from "../runtime/resource/resource.ts";
import type { UpdateOptions, WatchEvent } from "../runtime/state/core-state.ts";
import type {
  ExpectedPhase,
  LabelTerm as LabelTermMessage,
  Resource as ResourceMessage,
  WatchResponse,
} from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import {
  ExpectedPhase as ExpectedPhaseValue,
  LabelTerm_Op,
  LabelTermSchema,
  Phase as PhaseValue,
  ResourceSchema,
  WatchEventType,
  WatchResponseSchema,
} from "./gen/plinth/resource/v1alpha1/resource_pb.ts";

// Resources and watch events between the runtime and the wire: metadata as a message, the spec
// as JSON. Used by both ends, the ResourceService and the remote state backend.

function toTimestamp(iso: string): Timestamp | undefined {
  return iso === "" ? undefined : timestampFromDate(new Date(iso));
}

function fromTimestamp(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString() : "";
}

export function resourceToWire(r: AnyResource): ResourceMessage {
  const md = r.metadata;
  return create(ResourceSchema, {
    metadata: {
      namespace: md.namespace,
      type: md.type,
      id: md.id,
      version: BigInt(md.version),
      owner: md.owner,
      phase: md.phase === "tearingDown" ? PhaseValue.TEARING_DOWN : PhaseValue.RUNNING,
      finalizers: [...md.finalizers],
      labels: { ...md.labels },
      annotations: { ...md.annotations },
      created: toTimestamp(md.created),
      updated: toTimestamp(md.updated),
    },
    spec: new TextEncoder().encode(JSON.stringify(r.spec) ?? "null"),
  });
}

export function resourceFromWire(m: ResourceMessage | undefined): AnyResource {
  const md = m?.metadata;
  if (!m || !md) throw new PlinthError("invalid_argument", "the resource has no metadata");
  let spec: unknown;
  try {
    spec = m.spec.length === 0 ? undefined : JSON.parse(new TextDecoder().decode(m.spec));
  } catch (err) {
    throw new PlinthError(
      "invalid_argument",
      `the spec of ${md.namespace}/${md.type}/${md.id} is not valid JSON: ${(err as Error).message}`,
    );
  }
  const phase: Phase = md.phase === PhaseValue.TEARING_DOWN ? "tearingDown" : "running";
  return {
    metadata: {
      namespace: md.namespace,
      type: md.type,
      id: md.id,
      version: Number(md.version),
      owner: md.owner,
      phase,
      finalizers: [...md.finalizers],
      labels: { ...md.labels },
      annotations: { ...md.annotations },
      created: fromTimestamp(md.created),
      updated: fromTimestamp(md.updated),
    },
    spec,
  };
}

export function labelQueryToWire(query: LabelQuery | undefined): LabelTermMessage[] {
  return (query ?? []).map((t) =>
    create(LabelTermSchema, {
      key: t.key,
      invert: t.invert ?? false,
      ...(t.op === "equal"
        ? { op: LabelTerm_Op.EQUAL, values: [t.value] }
        : t.op === "in"
          ? { op: LabelTerm_Op.IN, values: [...t.values] }
          : { op: LabelTerm_Op.EXISTS }),
    }),
  );
}

export function labelQueryFromWire(terms: readonly LabelTermMessage[]): LabelQuery | undefined {
  if (terms.length === 0) return undefined;
  return terms.map((t): LabelTerm => {
    switch (t.op) {
      case LabelTerm_Op.EQUAL:
        if (t.values.length !== 1) {
          throw new PlinthError(
            "invalid_argument",
            `label term '${t.key}': OP_EQUAL needs exactly one value, got ${t.values.length}`,
          );
        }
        return { key: t.key, op: "equal", value: t.values[0]!, invert: t.invert };
      case LabelTerm_Op.IN:
        return { key: t.key, op: "in", values: [...t.values], invert: t.invert };
      case LabelTerm_Op.EXISTS:
        return { key: t.key, op: "exists", invert: t.invert };
      default:
        throw new PlinthError("invalid_argument", `label term '${t.key}': unknown op ${t.op}`);
    }
  });
}

export function expectedPhaseToWire(phase: UpdateOptions["expectedPhase"]): ExpectedPhase {
  switch (phase) {
    case "tearingDown":
      return ExpectedPhaseValue.TEARING_DOWN;
    case "any":
      return ExpectedPhaseValue.ANY;
    default:
      return ExpectedPhaseValue.RUNNING;
  }
}

export function expectedPhaseFromWire(phase: ExpectedPhase): UpdateOptions["expectedPhase"] {
  switch (phase) {
    case ExpectedPhaseValue.TEARING_DOWN:
      return "tearingDown";
    case ExpectedPhaseValue.ANY:
      return "any";
    default:
      return "running";
  }
}

export function watchEventToWire(e: WatchEvent): WatchResponse {
  switch (e.type) {
    case "bootstrapped":
      return create(WatchResponseSchema, { eventType: WatchEventType.BOOTSTRAPPED, bookmark: e.bookmark });
    case "created":
    case "destroyed":
      return create(WatchResponseSchema, {
        eventType: e.type === "created" ? WatchEventType.CREATED : WatchEventType.DESTROYED,
        resource: resourceToWire(e.resource),
        bookmark: e.bookmark,
      });
    case "updated":
      return create(WatchResponseSchema, {
        eventType: WatchEventType.UPDATED,
        resource: resourceToWire(e.resource),
        old: resourceToWire(e.old),
        bookmark: e.bookmark,
      });
  }
}

/** The runtime's event, or undefined for the ESTABLISHED message every watch starts with. */
export function watchEventFromWire(m: WatchResponse): WatchEvent | undefined {
  switch (m.eventType) {
    case WatchEventType.ESTABLISHED:
      return undefined;
    case WatchEventType.BOOTSTRAPPED:
      return { type: "bootstrapped", bookmark: m.bookmark };
    case WatchEventType.CREATED:
      return { type: "created", resource: resourceFromWire(m.resource), bookmark: m.bookmark };
    case WatchEventType.DESTROYED:
      return { type: "destroyed", resource: resourceFromWire(m.resource), bookmark: m.bookmark };
    case WatchEventType.UPDATED:
      return {
        type: "updated",
        resource: resourceFromWire(m.resource),
        old: resourceFromWire(m.old),
        bookmark: m.bookmark,
      };
    default:
      throw new PlinthError("internal", `unknown watch event type ${m.eventType}`);
  }
}
