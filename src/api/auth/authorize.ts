import type { DescMethod } from "@bufbuild/protobuf";
import { PlinthError } from "../../errors/plinth-error.ts";
import { allowedRoles, maintenanceRpcs, rpcName } from "./access-table.ts";
import type { Identity } from "./identity.ts";
import { describeIdentity, hasAnyRole } from "./identity.ts";

export interface AuthorizeOptions {
  /** No config yet: serve only ApplyConfiguration and Version, to anyone. */
  readonly maintenance?: boolean;
}

/**
 * Checks the caller's identity against the access table, throwing UNAUTHENTICATED without a
 * valid client certificate and PERMISSION_DENIED naming the role used when the table does not
 * allow the call. The one check both ways of serving a call run (the auth interceptor on the
 * connect path, the gRPC fast path).
 */
export function authorize(
  method: DescMethod,
  identity: () => Identity,
  options: AuthorizeOptions = {},
): void {
  const rpc = rpcName(method);
  if (options.maintenance) {
    if (maintenanceRpcs.has(rpc)) return;
    throw new PlinthError(
      "permission_denied",
      `the machine is in maintenance mode: only ApplyConfiguration and Version are served until a complete config is applied (called ${rpc})`,
    );
  }
  const caller = identity();
  if (caller.kind === "anonymous") {
    throw new PlinthError(
      "unauthenticated",
      `${rpc} needs a client certificate signed by the API CA: ${caller.reason}`,
    );
  }
  const allowed = allowedRoles(method);
  if (!hasAnyRole(caller, allowed)) {
    throw new PlinthError(
      "permission_denied",
      `${describeIdentity(caller)} may not call ${rpc} (allowed: ${allowed.join(", ") || "no role"})`,
    );
  }
}
