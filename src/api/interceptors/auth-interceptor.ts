import type { Interceptor } from "@connectrpc/connect";
import type { AuthorizeOptions } from "../auth/authorize.ts";
import { authorize } from "../auth/authorize.ts";
import { identityKey } from "../auth/identity.ts";

export type AuthInterceptorOptions = AuthorizeOptions;

/**
 * Checks the caller's identity (the `identityKey` context value) against the access table (see
 * ../auth/authorize.ts): UNAUTHENTICATED without a valid client certificate, PERMISSION_DENIED
 * naming the role used when the table does not allow it.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions = {}): Interceptor {
  return (next) => async (req) => {
    authorize(req.method, () => req.contextValues.get(identityKey), options);
    return next(req);
  };
}
