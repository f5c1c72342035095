/**
 * Roles, carried as Organization values of client certificates. `os:impersonator` marks a node
 * certificate: it grants no RPC by itself, it only lets a node forward a caller's certificate
 * during fan-out (see ../fanout/forwarded-certificate.ts).
 */
export const roles = ["os:admin", "os:operator", "os:reader", "os:etcd:backup", "os:impersonator"] as const;

export type Role = (typeof roles)[number];

export const impersonatorRole = "os:impersonator" satisfies Role;

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/** The roles among a certificate's Organization values, in a stable order; others are ignored. */
export function rolesFromOrganizations(organizations: readonly string[]): Role[] {
  return roles.filter((r) => organizations.includes(r));
}
