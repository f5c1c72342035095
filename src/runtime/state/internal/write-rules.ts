import { PlinthError } from "../../../errors/plinth-error.ts";
import type { AnyResource, Metadata, Pointer, Resource } from "../../resource/resource.ts";
import { formatPointer, frozenJsonCopy } from "../../resource/resource.ts";
import type { UpdateOptions, WriteOptions } from "../core-state.ts";

// The write rules of the CoreState contract, as pure functions shared by every backend, so
// that all of them reject the same writes with the same codes and messages.

const idPattern = /^[^\s/]{1,253}$/;
const labelKey = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export function assertWellFormed(res: AnyResource): void {
  const md = res?.metadata;
  if (!md || typeof md !== "object") {
    throw new PlinthError("invalid_argument", "resource has no metadata");
  }
  for (const field of ["namespace", "type", "id"] as const) {
    if (typeof md[field] !== "string" || !idPattern.test(md[field])) {
      throw new PlinthError(
        "invalid_argument",
        `resource metadata.${field} must be 1-253 characters without spaces or '/', current value is ${JSON.stringify(md[field])}`,
      );
    }
  }
  for (const [map, what] of [
    [md.labels, "labels"],
    [md.annotations, "annotations"],
  ] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      if (!labelKey.test(k) || typeof v !== "string") {
        throw new PlinthError(
          "invalid_argument",
          `resource ${formatPointer(md)}: metadata.${what} key '${k}' must be a qualified name with a string value`,
        );
      }
    }
  }
}

function notFound(ptr: Pointer): PlinthError {
  return new PlinthError("not_found", `resource ${formatPointer(ptr)} does not exist`);
}

function checkOwner(stored: AnyResource, owner: string | undefined, action: string): void {
  const writer = owner ?? "";
  if (stored.metadata.owner !== writer) {
    throw new PlinthError(
      "owner_conflict",
      `cannot ${action} ${formatPointer(stored.metadata)}: owned by '${stored.metadata.owner}', writer is '${writer}'`,
    );
  }
}

function stamp<S>(res: Resource<S>, metadata: Partial<Metadata>): Resource<S> {
  let spec: S;
  try {
    spec = frozenJsonCopy(res.spec);
  } catch (err) {
    throw new PlinthError(
      "invalid_argument",
      `resource ${formatPointer(res.metadata)}: ${(err as Error).message}`,
    );
  }
  const md: Metadata = {
    namespace: res.metadata.namespace,
    type: res.metadata.type,
    id: res.metadata.id,
    version: res.metadata.version,
    owner: res.metadata.owner,
    phase: res.metadata.phase ?? "running",
    finalizers: Object.freeze([...(res.metadata.finalizers ?? [])]),
    labels: Object.freeze({ ...res.metadata.labels }),
    annotations: Object.freeze({ ...res.metadata.annotations }),
    created: res.metadata.created,
    updated: res.metadata.updated,
    ...metadata,
  };
  return Object.freeze({ metadata: Object.freeze(md), spec });
}

/** The resource to store for a create, or the error. */
export function ruleCreate<S>(
  res: Resource<S>,
  stored: AnyResource | undefined,
  options: WriteOptions | undefined,
  now: string,
): Resource<S> {
  assertWellFormed(res);
  if (stored) {
    throw new PlinthError("already_exists", `resource ${formatPointer(res.metadata)} already exists`);
  }
  return stamp(res, {
    version: 1,
    owner: options?.owner ?? "",
    phase: "running",
    created: now,
    updated: now,
  });
}

/** The resource to store for an update, or the error. */
export function ruleUpdate<S>(
  res: Resource<S>,
  stored: AnyResource | undefined,
  options: UpdateOptions | undefined,
  now: string,
): Resource<S> {
  assertWellFormed(res);
  if (!stored) throw notFound(res.metadata);
  if (res.metadata.version !== stored.metadata.version) {
    throw new PlinthError(
      "conflict",
      `cannot update ${formatPointer(res.metadata)}: version ${res.metadata.version} is stale, stored version is ${stored.metadata.version}`,
      { details: { storedVersion: stored.metadata.version } },
    );
  }
  checkOwner(stored, options?.owner, "update");
  const expected = options?.expectedPhase ?? "running";
  if (expected !== "any" && stored.metadata.phase !== expected) {
    throw new PlinthError(
      "phase_conflict",
      `cannot update ${formatPointer(res.metadata)}: phase is ${stored.metadata.phase}, expected ${expected}`,
    );
  }
  if (stored.metadata.phase === "tearingDown" && res.metadata.phase !== "tearingDown") {
    throw new PlinthError(
      "phase_conflict",
      `cannot update ${formatPointer(res.metadata)}: a resource being torn down cannot run again`,
    );
  }
  return stamp(res, {
    version: stored.metadata.version + 1,
    owner: stored.metadata.owner,
    created: stored.metadata.created,
    updated: now,
  });
}

export function ruleDestroy(ptr: Pointer, stored: AnyResource | undefined, options?: WriteOptions): void {
  if (!stored) throw notFound(ptr);
  checkOwner(stored, options?.owner, "destroy");
  if (stored.metadata.phase !== "tearingDown") {
    throw new PlinthError(
      "phase_conflict",
      `cannot destroy ${formatPointer(ptr)}: it must be torn down first (phase is ${stored.metadata.phase})`,
    );
  }
  if (stored.metadata.finalizers.length > 0) {
    throw new PlinthError(
      "conflict",
      `cannot destroy ${formatPointer(ptr)}: finalizers pending: ${stored.metadata.finalizers.join(", ")}`,
      { details: { finalizers: [...stored.metadata.finalizers] } },
    );
  }
}
