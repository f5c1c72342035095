/**
 * Client roles, carried in the Organization of a client certificate. Every RPC declares which of
 * them it allows.
 */
export const roles = ["os:admin", "os:operator", "os:reader", "os:etcd:backup"] as const;

export type Role = (typeof roles)[number];

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}
