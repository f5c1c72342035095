import { apiVersion } from "../fields.ts";
import type { machineTypes } from "../kinds/machine-config.ts";
import type { MachineSecretsDocument } from "./generate-secrets.ts";

export type MachineType = (typeof machineTypes)[number];

export interface GenerateMachineConfigOptions {
  readonly clusterName: string;
  /** The control-plane endpoint URL. */
  readonly endpoint: string;
  readonly secrets: MachineSecretsDocument;
}

/**
 * The documents of a fresh machine config of `type`, as plain data: a controlplane gets the API
 * and etcd CA keys, a worker only the CA certificates and the bootstrap token. Nothing else:
 * a machine Plinth starts to manage keeps its hostname, network and files until documents say
 * otherwise.
 */
export function generateMachineConfig(type: MachineType, options: GenerateMachineConfigOptions): unknown[] {
  const { secrets } = options;
  const controlplane = type === "controlplane";
  const machine = {
    apiVersion,
    kind: "MachineConfig",
    type,
    trust: {
      ca: controlplane ? { ...secrets.certs.api } : { crt: secrets.certs.api.crt },
      token: secrets.bootstrapToken,
    },
  };
  const cluster = {
    apiVersion,
    kind: "ClusterConfig",
    name: options.clusterName,
    id: secrets.cluster.id,
    secret: secrets.cluster.secret,
    controlPlane: { endpoint: options.endpoint },
    ...(controlplane ? { etcd: { ca: { ...secrets.certs.etcd } } } : {}),
  };
  return [machine, cluster];
}
