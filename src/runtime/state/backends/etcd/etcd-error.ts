import { createRequire } from "node:module";
import type * as Etcd3Module from "etcd3";
import { type ErrorCode, isPlinthError, PlinthError } from "../../../../errors/plinth-error.ts";

// The one place where errors of the etcd client (typed errors of the etcd3 library, raw gRPC
// status errors from watch streams, circuit and closed-client errors) become PlinthErrors.

// etcd3 (and gRPC under it) is loaded only when the agent first talks to etcd; an error to
// translate is the first time this module needs it, and by then it is usually loaded already.
const require = createRequire(import.meta.url);
let etcd3: typeof Etcd3Module | undefined;
function etcd3Module(): typeof Etcd3Module {
  etcd3 ??= require("etcd3") as typeof Etcd3Module;
  return etcd3;
}

let grpcCodes: Map<abstract new (...args: never[]) => Error, number> | undefined;

/** gRPC status codes, by the etcd3 class that stands for each. */
function grpcCodeOf(): Map<abstract new (...args: never[]) => Error, number> {
  const e = etcd3Module();
  grpcCodes ??= new Map<abstract new (...args: never[]) => Error, number>([
    [e.GRPCCancelledError, 1],
    [e.GRPCUnknownError, 2],
    [e.GRPCInvalidArgumentError, 3],
    [e.GRPCDeadlineExceededError, 4],
    [e.GRPCNotFoundError, 5],
    [e.GRPCAlreadyExistsError, 6],
    [e.EtcdPermissionDeniedError, 7],
    [e.GRPCResourceExhastedError, 8],
    [e.GRPCFailedPreconditionError, 9],
    [e.GRPCAbortedError, 10],
    [e.GRPCOutOfRangeError, 11],
    [e.GRPCNotImplementedError, 12],
    [e.GRPCInternalError, 13],
    [e.GRPCUnavailableError, 14],
    [e.GRPCDataLossError, 15],
    [e.GRPCUnauthenticatedError, 16],
    [e.EtcdAuthenticationFailedError, 16],
    [e.EtcdInvalidAuthTokenError, 16],
  ]);
  return grpcCodes;
}

/**
 * Cancelled, unknown, deadline, aborted, internal and unavailable all mean that the server or the
 * connection went away mid-call: the caller may try again once etcd is back.
 */
const byGrpcCode: Record<number, ErrorCode> = {
  1: "unavailable",
  2: "unavailable",
  3: "invalid_argument",
  4: "unavailable",
  5: "internal",
  6: "internal",
  7: "permission_denied",
  8: "resource_exhausted",
  9: "failed_precondition",
  10: "unavailable",
  11: "invalid_argument",
  12: "unimplemented",
  13: "unavailable",
  14: "unavailable",
  15: "internal",
  16: "unauthenticated",
};

function grpcCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const raw = (err as { code?: unknown }).code;
  if (typeof raw === "number") return raw;
  for (const [ctor, code] of grpcCodeOf()) if (err instanceof ctor) return code;
  return undefined;
}

/** True when etcd refused a read or watch because the revision it asked for was compacted. */
export function isCompacted(err: unknown): boolean {
  return err instanceof Error && err.message.includes("required revision has been compacted");
}

/**
 * A PlinthError for an etcd failure while doing `action` ("update test/TestSpec/a"), with the
 * original as cause. PlinthErrors pass through unchanged.
 */
export function translateEtcdError(err: unknown, action: string): PlinthError {
  if (isPlinthError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isCompacted(err)) {
    return new PlinthError("history_lost", `cannot ${action}: etcd compacted that revision`, { cause: err });
  }
  if (err instanceof etcd3Module().ClientClosedError) {
    return new PlinthError("unavailable", `cannot ${action}: the etcd client is closed`, { cause: err });
  }
  if (err instanceof Error && err.name === "BrokenCircuitError") {
    return new PlinthError("unavailable", `cannot ${action}: etcd is unavailable (${message})`, {
      cause: err,
    });
  }
  const code = grpcCode(err);
  const plinthCode = code === undefined ? "internal" : (byGrpcCode[code] ?? "internal");
  const reason =
    code === 4
      ? "etcd did not answer in time"
      : plinthCode === "unavailable"
        ? `etcd is unavailable (${message})`
        : `etcd answered: ${message}`;
  return new PlinthError(plinthCode, `cannot ${action}: ${reason}`, { cause: err });
}

/** The error for a watch that etcd canceled with `reason` (not for a compaction). */
export function translateWatchCancel(reason: string, action: string): PlinthError {
  return translateEtcdError(
    etcd3Module().castGrpcErrorMessage(reason || "etcd canceled the watch without a reason"),
    action,
  );
}
