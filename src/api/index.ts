// The machine API: server, auth, fan-out, ResourceService, and the client side's transport and
// error translation. Generated messages and services are imported from ./gen directly.

export type { CertificateRole, Role } from "../pki/roles.ts";
export { certificateRoles, impersonatorRole, isRole, roles, rolesFromOrganizations } from "../pki/roles.ts";
export {
  accessTable,
  allowedRoles,
  maintenanceRpcs,
  rpcName,
  sensitiveReadRoles,
} from "./auth/access-table.ts";
export type { Identity } from "./auth/identity.ts";
export { describeIdentity, hasAnyRole, identityKey } from "./auth/identity.ts";
export type { ApiTransport, ApiTransportOptions } from "./client/api-transport.ts";
export { createApiTransport, toNodes } from "./client/api-transport.ts";
export { fromConnectError, toConnectError } from "./error-mapping.ts";
export { nodesHeader } from "./fanout/node-address.ts";
export type { ResourceServiceOptions } from "./resource-service.ts";
export { createResourceService } from "./resource-service.ts";
export { resourceFromWire, resourceToWire } from "./resource-wire.ts";
export type { ApiServer, ApiServerOptions, ApiServerTlsOptions } from "./server.ts";
export { createApiServer } from "./server.ts";
