import type { ResourceDefinition } from "../../runtime/resource/definition.ts";
import { AddressSpec, AddressStatus, NodeAddress } from "./address.ts";
import { Affiliate, DiscoveryStatus, NodeIdentity } from "./affiliate.ts";
import { APIBalancerSpec, APIBalancerStatus } from "./api-balancer.ts";
import { Diagnostic, SystemResources } from "./diagnostic.ts";
import { DriftStatus } from "./drift.ts";
import { EtcdMember, EtcdMembership, EtcdRootSecret, EtcdSpec, EtcdStatus } from "./etcd.ts";
import { FileSpec, FileStatus } from "./file.ts";
import { HostnameSpec, HostnameStatus } from "./hostname.ts";
import { LinkSpec, LinkStatus } from "./link.ts";
import { ConfigRevision, ConfigTrial, MachineConfigResource, StagedConfig } from "./machine-config.ts";
import { MachineStatus } from "./machine-status.ts";
import { MeshIdentity, MeshPeerSpec, MeshPeerStatus, MeshPrivateKey, MeshSpec, MeshStatus } from "./mesh.ts";
import { EtcFileStatus, ResolverSpec, StaticHostSpec } from "./name-resolution.ts";
import { ResourceDefinitionResource } from "./resource-definition.ts";
import { RouteSpec, RouteStatus } from "./route.ts";
import { ServiceSpec, ServiceStatusResource } from "./service.ts";
import { SysctlSpec, SysctlStatus } from "./sysctl.ts";
import { UpgradeStatus } from "./upgrade-status.ts";

export * from "./address.ts";
export * from "./affiliate.ts";
export * from "./api-balancer.ts";
export * from "./diagnostic.ts";
export * from "./drift.ts";
export * from "./etcd.ts";
export * from "./file.ts";
export * from "./hostname.ts";
export * from "./link.ts";
export * from "./machine-config.ts";
export * from "./machine-status.ts";
export * from "./mesh.ts";
export * from "./name-resolution.ts";
export * from "./resource-definition.ts";
export * from "./resource-id.ts";
export * from "./route.ts";
export * from "./service.ts";
export * from "./sysctl.ts";
export * from "./upgrade-status.ts";

/** Every resource type the agent serves. */
export const agentResources: readonly ResourceDefinition<unknown>[] = [
  MachineConfigResource,
  ConfigRevision,
  StagedConfig,
  ConfigTrial,
  MachineStatus,
  UpgradeStatus,
  ServiceSpec,
  ServiceStatusResource,
  HostnameSpec,
  HostnameStatus,
  StaticHostSpec,
  ResolverSpec,
  EtcFileStatus,
  SysctlSpec,
  SysctlStatus,
  FileSpec,
  FileStatus,
  LinkSpec,
  LinkStatus,
  AddressSpec,
  AddressStatus,
  NodeAddress,
  RouteSpec,
  RouteStatus,
  DriftStatus,
  EtcdSpec,
  EtcdRootSecret,
  EtcdMembership,
  EtcdMember,
  EtcdStatus,
  APIBalancerSpec,
  APIBalancerStatus,
  NodeIdentity,
  Affiliate,
  DiscoveryStatus,
  MeshIdentity,
  MeshPrivateKey,
  MeshSpec,
  MeshPeerSpec,
  MeshPeerStatus,
  MeshStatus,
  Diagnostic,
  SystemResources,
  ResourceDefinitionResource,
];
