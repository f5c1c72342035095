/**
 * Roles, carried as Organization values of certificates. The client roles are what an RPC can
 * allow and what a client certificate may be issued with.
 */
export const roles = ["os:admin", "os:operator", "os:reader", "os:etcd:backup"] as const;

export type Role = (typeof roles)[number];

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/**
 * Marks a node certificate: it grants no RPC by itself, it only lets a node forward a caller's
 * certificate during fan-out. Never a client role, so never issued to a client.
 */
export const impersonatorRole = "os:impersonator";

/** Every role read from a certificate: the client roles and the node's `os:impersonator`. */
export const certificateRoles = [...roles, impersonatorRole] as const;

export type CertificateRole = (typeof certificateRoles)[number];

/** The roles among a certificate's Organization values, in a stable order; others are ignored. */
export function rolesFromOrganizations(organizations: readonly string[]): CertificateRole[] {
  return certificateRoles.filter((r) => organizations.includes(r));
}
