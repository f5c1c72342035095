import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { Role } from "../../pki/roles.ts";
import { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../gen/plinth/resource/v1alpha1/resource_pb.ts";

const admin: readonly Role[] = ["os:admin"];
const operator: readonly Role[] = ["os:admin", "os:operator"];
const reader: readonly Role[] = ["os:admin", "os:operator", "os:reader"];
const etcdBackup: readonly Role[] = ["os:admin", "os:etcd:backup"];

// Which roles may call each RPC: the one place access is declared (as `accessTable` below). The
// auth interceptor checks it for every call; an RPC missing here is denied to everyone.
// `os:etcd:backup` is allowed only the etcd snapshot; `os:impersonator` grants nothing by itself.

const machineAccess = {
  applyConfiguration: admin,
  // Keeping a tried config, or going back to an earlier one, is applying a config.
  confirmConfiguration: admin,
  version: reader,
  serviceList: reader,
  serviceStart: operator,
  serviceStop: operator,
  serviceRestart: operator,
  logs: reader,
  reboot: operator,
  reset: admin,
  // Config documents hold the machine's secrets: a sensitive read.
  configHistory: admin,
  configRollback: admin,
  issueClientConfig: admin,
  // Creating a cluster, leaving it or removing a member changes who holds the data: admin only.
  bootstrap: admin,
  etcdMemberList: reader,
  etcdStatus: reader,
  // A snapshot is the whole database, secrets included.
  etcdSnapshot: etcdBackup,
  // Like a reboot: it moves work around without losing anything.
  etcdForfeitLeadership: operator,
  etcdLeaveCluster: admin,
  etcdRemoveMember: admin,
  // Stops the machine until someone starts it again: more than a reboot.
  shutdown: admin,
  // Replaces the agent's code: admin only.
  upgrade: admin,
  // Only reads (as the caller, whose certificate the checking node passes on to the others).
  healthCheck: reader,
} satisfies Record<keyof typeof MachineService.method, readonly Role[]>;

const resourceAccess = {
  // Reads of resource types with sensitivity "sensitive" also need `sensitiveReadRoles`.
  get: reader,
  list: reader,
  watch: reader,
  // Admin-only although the operator may do "everything but apply and reset": writing a config
  // resource directly would be an apply that skips its validation.
  create: admin,
  update: admin,
  destroy: admin,
} satisfies Record<keyof typeof ResourceService.method, readonly Role[]>;

function entries(service: DescService, access: Record<string, readonly Role[]>): [string, readonly Role[]][] {
  return service.methods.map((m) => [rpcName(m), access[m.localName] ?? []]);
}

/** RPC path ("plinth.machine.v1alpha1.MachineService/Version") → the roles allowed to call it. */
export const accessTable: ReadonlyMap<string, readonly Role[]> = new Map([
  ...entries(MachineService, machineAccess),
  ...entries(ResourceService, resourceAccess),
]);

/** Who may read resources whose definition says `sensitivity: "sensitive"`. */
export const sensitiveReadRoles: readonly Role[] = admin;

/** The only RPCs served in maintenance mode, to anyone: a machine without config has no CA yet. */
export const maintenanceRpcs: ReadonlySet<string> = new Set([
  rpcName(MachineService.method.applyConfiguration),
  rpcName(MachineService.method.version),
]);

/** "plinth.machine.v1alpha1.MachineService/Version": the RPC's path. */
export function rpcName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/** The roles allowed to call the method; empty (denied to all) when the table does not list it. */
export function allowedRoles(method: DescMethod): readonly Role[] {
  return accessTable.get(rpcName(method)) ?? [];
}
