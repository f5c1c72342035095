import type { Interceptor } from "@connectrpc/connect";
import { PlinthError } from "../../errors/plinth-error.ts";
import { allowedRoles, maintenanceRpcs, rpcName } from "../auth/access-table.ts";
import { describeIdentity, hasAnyRole, identityKey } from "../auth/identity.ts";

export interface AuthInterceptorOptions {
  /** No config yet: serve only ApplyConfiguration and Version, to anyone. */
  readonly maintenance?: boolean;
}

/**
 * Checks the caller's identity (the `identityKey` context value) against the access table:
 * UNAUTHENTICATED without a valid client certificate, PERMISSION_DENIED naming the role used
 * when the table does not allow it.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions = {}): Interceptor {
  return (next) => async (req) => {
    const rpc = rpcName(req.method);
    if (options.maintenance) {
      if (maintenanceRpcs.has(rpc)) return next(req);
      throw new PlinthError(
        "permission_denied",
        `the machine is in maintenance mode: only ApplyConfiguration and Version are served until a complete config is applied (called ${rpc})`,
      );
    }
    const identity = req.contextValues.get(identityKey);
    if (identity.kind === "anonymous") {
      throw new PlinthError(
        "unauthenticated",
        `${rpc} needs a client certificate signed by the API CA: ${identity.reason}`,
      );
    }
    const allowed = allowedRoles(req.method);
    if (!hasAnyRole(identity, allowed)) {
      throw new PlinthError(
        "permission_denied",
        `${describeIdentity(identity)} may not call ${rpc} (allowed: ${allowed.join(", ") || "no role"})`,
      );
    }
    return next(req);
  };
}
