import type { KindDefinition } from "../kind-definition.ts";
import { Address } from "./address.ts";
import { APIBalancer } from "./api-balancer.ts";
import { ClusterConfig } from "./cluster-config.ts";
import { Discovery } from "./discovery.ts";
import { Files } from "./files.ts";
import { Hostname } from "./hostname.ts";
import { Link } from "./link.ts";
import { MachineConfig } from "./machine-config.ts";
import { MachineSecrets } from "./machine-secrets.ts";
import { Mesh } from "./mesh.ts";
import { Resolvers } from "./resolvers.ts";
import { Route } from "./route.ts";
import { Service } from "./service.ts";
import { StaticHosts } from "./static-hosts.ts";
import { Sysctls } from "./sysctls.ts";

/** Every document kind, in the order docs/config.md lists them. */
export const configKinds = [
  MachineConfig,
  ClusterConfig,
  Hostname,
  Resolvers,
  StaticHosts,
  Sysctls,
  Files,
  Link,
  Address,
  Route,
  Service,
  Mesh,
  Discovery,
  APIBalancer,
  MachineSecrets,
] as const;

export type AnyKindDefinition = (typeof configKinds)[number];
export type KindName = AnyKindDefinition["kind"];

type OutputOf<D> = D extends KindDefinition<string, infer T> ? T : never;

/** A validated document of any kind: a tagged union on `kind`. */
export type ConfigDocument = OutputOf<AnyKindDefinition>;
export type DocumentOf<K extends KindName> = Extract<ConfigDocument, { kind: K }>;

const byKind = new Map<string, KindDefinition>(configKinds.map((k) => [k.kind, k as KindDefinition]));

export function findKind(kind: string): KindDefinition | undefined {
  return byKind.get(kind);
}

export const kindNames: readonly KindName[] = configKinds.map((k) => k.kind);

export {
  Address,
  APIBalancer,
  ClusterConfig,
  Discovery,
  Files,
  Hostname,
  Link,
  MachineConfig,
  MachineSecrets,
  Mesh,
  Resolvers,
  Route,
  Service,
  StaticHosts,
  Sysctls,
};
