import { createContextKey } from "@connectrpc/connect";
import type { CertificateRole } from "../../pki/roles.ts";

/**
 * Who is calling, as the server established it from the TLS peer certificate (and, for a call a
 * node forwarded during fan-out, the caller's certificate the node passed on).
 */
export type Identity =
  | {
      readonly kind: "anonymous";
      /** Why there is no identity, for the UNAUTHENTICATED message. */
      readonly reason: string;
    }
  | {
      readonly kind: "certificate";
      /** The certificate's common name. */
      readonly subject: string;
      readonly roles: readonly CertificateRole[];
      /** The DER certificate, passed on when the call is fanned out. */
      readonly certificate: Uint8Array;
      /** For a forwarded call: the subject of the node that forwarded it. */
      readonly forwardedBy?: string;
    };

export const identityKey = createContextKey<Identity>(
  { kind: "anonymous", reason: "the server did not establish who is calling" },
  { description: "plinth caller identity" },
);

export function hasAnyRole(identity: Identity, allowed: readonly CertificateRole[]): boolean {
  return identity.kind === "certificate" && identity.roles.some((r) => allowed.includes(r));
}

/** "role os:reader (CN=reader)", for error messages that name the role used. */
export function describeIdentity(identity: Identity): string {
  if (identity.kind === "anonymous") return "an anonymous caller";
  const via = identity.forwardedBy ? `, forwarded by CN=${identity.forwardedBy}` : "";
  if (identity.roles.length === 0) return `CN=${identity.subject} (no Plinth role${via})`;
  const label = identity.roles.length === 1 ? "role" : "roles";
  return `${label} ${identity.roles.join(", ")} (CN=${identity.subject}${via})`;
}
