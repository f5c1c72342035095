import { isDeepStrictEqual } from "node:util";
import type { ConfigBundle } from "../config/config-bundle.ts";
import type { KindName } from "../config/kinds/index.ts";

/** A config field that the agent puts into effect only by restarting (stop everything, start again). */
export interface RestartField {
  readonly kind: KindName;
  readonly path: readonly string[];
  /** Why a live change would not do. */
  readonly why: string;
}

/**
 * Everything else in the config is applied live by controllers, including the machine API's
 * listener, certificate SANs and trust material (the API server is rebuilt after the reply).
 * These fields shape what a boot builds, so changing them live would leave a machine half in the
 * old shape and half in the new one.
 */
export const restartFields: readonly RestartField[] = [
  {
    kind: "MachineConfig",
    path: ["type"],
    why: "the machine's role decides what the agent runs (etcd and the API CA on control planes)",
  },
  {
    kind: "MachineConfig",
    path: ["install", "dir"],
    why: "the agent runs from the install slots in this directory",
  },
  {
    kind: "ClusterConfig",
    path: ["id"],
    why: "the cluster's identity: etcd, discovery and the mesh are built for one cluster",
  },
  {
    kind: "ClusterConfig",
    path: ["secret"],
    why: "the cluster's identity: etcd, discovery and the mesh are built for one cluster",
  },
  {
    kind: "ClusterConfig",
    path: ["etcd", "dataDir"],
    why: "etcd starts from its data directory",
  },
];

function valueAt(bundle: ConfigBundle, field: RestartField): unknown {
  let value: unknown = bundle.find(field.kind);
  for (const key of field.path) {
    if (value === undefined || value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** `Kind.path` of the restart fields whose value differs between two complete configs. */
export function changedRestartFields(current: ConfigBundle, next: ConfigBundle): string[] {
  return restartFields
    .filter((f) => !isDeepStrictEqual(valueAt(current, f), valueAt(next, f)))
    .map((f) => `${f.kind}.${f.path.join(".")}`);
}
