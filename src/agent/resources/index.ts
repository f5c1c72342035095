import type { ResourceDefinition } from "../../runtime/resource/definition.ts";
import { ConfigRevision, MachineConfigResource } from "./machine-config.ts";
import { MachineStatus } from "./machine-status.ts";
import { ResourceDefinitionResource } from "./resource-definition.ts";
import { ServiceSpec, ServiceStatusResource } from "./service.ts";

export * from "./machine-config.ts";
export * from "./machine-status.ts";
export * from "./resource-definition.ts";
export * from "./service.ts";

/** Every resource type the agent serves. */
export const agentResources: readonly ResourceDefinition<unknown>[] = [
  MachineConfigResource,
  ConfigRevision,
  MachineStatus,
  ServiceSpec,
  ServiceStatusResource,
  ResourceDefinitionResource,
];
