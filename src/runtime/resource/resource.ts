/** A resource: versioned metadata plus a typed spec. Stored resources are frozen; copy to change. */
export type Phase = "running" | "tearingDown";

export interface Metadata {
  readonly namespace: string;
  readonly type: string;
  readonly id: string;
  /** Monotonic per resource; 0 before the resource is first stored. */
  readonly version: number;
  /** Name of the controller that owns the resource; "" for user-owned. */
  readonly owner: string;
  readonly phase: Phase;
  readonly finalizers: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** ISO 8601 timestamps, set by the state. */
  readonly created: string;
  readonly updated: string;
}

export interface Resource<S = unknown> {
  readonly metadata: Metadata;
  readonly spec: S;
}

export type AnyResource = Resource<unknown>;

/** A resource kind: every resource of one type in one namespace. */
export interface Kind {
  readonly namespace: string;
  readonly type: string;
}

/** Points at one resource; the type parameter carries the spec type for typed reads. */
export interface Pointer<S = unknown> extends Kind {
  readonly id: string;
  /** Phantom field, never set: lets `get(ptr)` return `Resource<S>`. */
  readonly __spec?: S;
}

export interface NewResourceOptions {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
}

/** Builds an unstored resource (version 0); the state fills in version, owner and timestamps. */
export function newResource<S>(ptr: Pointer<S>, spec: S, options: NewResourceOptions = {}): Resource<S> {
  return {
    metadata: {
      namespace: ptr.namespace,
      type: ptr.type,
      id: ptr.id,
      version: 0,
      owner: "",
      phase: "running",
      finalizers: [...(options.finalizers ?? [])],
      labels: { ...options.labels },
      annotations: { ...options.annotations },
      created: "",
      updated: "",
    },
    spec,
  };
}

export function pointerOf(r: { readonly metadata: Pointer }): Pointer {
  return { namespace: r.metadata.namespace, type: r.metadata.type, id: r.metadata.id };
}

export function formatPointer(p: Pointer): string {
  return `${p.namespace}/${p.type}/${p.id}`;
}

export function kindKey(k: Kind): string {
  return `${k.namespace}\u0000${k.type}`;
}

/** A deep copy that callers may change; stored resources are frozen. */
export function copyResource<S>(r: Resource<S>): { metadata: MutableMetadata; spec: S } {
  return structuredClone(r) as { metadata: MutableMetadata; spec: S };
}

export type MutableMetadata = {
  -readonly [K in keyof Metadata]: Metadata[K] extends readonly (infer T)[]
    ? T[]
    : Metadata[K] extends Readonly<Record<string, string>>
      ? Record<string, string>
      : Metadata[K];
};

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const k in value) deepFreeze(value[k]);
  }
  return value;
}

/**
 * A frozen deep copy of JSON data, in one pass. Specs are JSON (every durable backend stores
 * them as JSON), so anything else (class instances, functions, bigints) is refused here rather
 * than lost later.
 */
export function frozenJsonCopy<T>(value: T, path = "spec"): T {
  if (value === null) return value;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`${path} must be a finite number, current value is ${value}`);
      return value;
    case "object": {
      if (Array.isArray(value)) {
        const out = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = frozenJsonCopy(value[i], `${path}[${i}]`);
        return Object.freeze(out) as T;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `${path} must be plain JSON data, found a ${proto?.constructor?.name ?? "non-plain"} object`,
        );
      }
      const out: Record<string, unknown> = {};
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v !== undefined) out[k] = frozenJsonCopy(v, `${path}.${k}`);
      }
      return Object.freeze(out) as T;
    }
    default:
      throw new TypeError(`${path} must be JSON data, found a ${typeof value}`);
  }
}
