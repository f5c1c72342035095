import type { z } from "zod";
import type { Kind, NewResourceOptions, Pointer, Resource } from "./resource.ts";
import { newResource } from "./resource.ts";

/**
 * public: any reader; sensitive: only roles allowed to read secrets; private: never served by the
 * API to anyone (material that must not leave the machine, e.g. the mesh private key).
 */
export type Sensitivity = "public" | "sensitive" | "private";

/** A column of `plinth get` table output: a dot path into the spec. */
export interface PrintColumn {
  readonly name: string;
  readonly path: string;
}

export interface ResourceDefinitionInput<S> {
  /** Type name, PascalCase, e.g. `HostnameSpec`. */
  readonly type: string;
  readonly namespace: string;
  readonly aliases?: readonly string[];
  readonly printColumns?: readonly PrintColumn[];
  readonly sensitivity?: Sensitivity;
  readonly schema: z.ZodType<S>;
}

export interface ResourceDefinition<S = unknown> {
  readonly type: string;
  readonly namespace: string;
  readonly aliases: readonly string[];
  readonly printColumns: readonly PrintColumn[];
  readonly sensitivity: Sensitivity;
  readonly schema: z.ZodType<S>;
  kind(namespace?: string): Kind;
  ptr(id: string, namespace?: string): Pointer<S>;
  make(id: string, spec: S, options?: NewResourceOptions & { namespace?: string }): Resource<S>;
}

export type SpecOf<D> = D extends ResourceDefinition<infer S> ? S : never;

const typeName = /^[A-Z][A-Za-z0-9]*(\.[a-z0-9-]+)*$/;

/** Declares a resource type; code outside the runtime reads and writes through these. */
export function defineResource<S>(input: ResourceDefinitionInput<S>): ResourceDefinition<S> {
  if (!typeName.test(input.type)) {
    throw new TypeError(
      `Cannot define resource: 'type' must be PascalCase like 'HostnameSpec', current value is '${input.type}'`,
    );
  }
  if (input.namespace === "") {
    throw new TypeError(`Cannot define resource ${input.type}: 'namespace' must not be empty`);
  }
  const def: ResourceDefinition<S> = {
    type: input.type,
    namespace: input.namespace,
    aliases: input.aliases ?? [],
    printColumns: input.printColumns ?? [],
    sensitivity: input.sensitivity ?? "public",
    schema: input.schema,
    kind: (namespace = input.namespace) => ({ namespace, type: input.type }),
    ptr: (id, namespace = input.namespace) => ({ namespace, type: input.type, id }),
    make: (id, spec, options = {}) => newResource(def.ptr(id, options.namespace), spec, options),
  };
  return Object.freeze(def);
}
