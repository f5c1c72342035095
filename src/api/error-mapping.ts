import { Code, ConnectError } from "@connectrpc/connect";
import type { ErrorCode } from "../errors/plinth-error.ts";
import { errorCodes, isPlinthError, PlinthError } from "../errors/plinth-error.ts";
import { ErrorDetailSchema } from "./gen/plinth/common/v1alpha1/common_pb.ts";

// PlinthError ↔ ConnectError, both directions in this one file: the server translates once in
// the error interceptor, clients once with `fromConnectError`. gRPC codes are coarser than
// Plinth's, so every error also carries an ErrorDetail with the exact Plinth code.

const toConnectCode: Record<ErrorCode, Code> = {
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  conflict: Code.Aborted,
  owner_conflict: Code.FailedPrecondition,
  phase_conflict: Code.FailedPrecondition,
  invalid_argument: Code.InvalidArgument,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  canceled: Code.Canceled,
  resource_exhausted: Code.ResourceExhausted,
  // The bookmark lies outside the history the server keeps.
  history_lost: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

/** For errors without an ErrorDetail: from other servers, proxies, or connect itself. */
const fromConnectCode: Record<Code, ErrorCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "internal",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "conflict",
  [Code.OutOfRange]: "history_lost",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "internal",
  [Code.Unauthenticated]: "unauthenticated",
};

function encodeDetails(details: Record<string, unknown>): Uint8Array {
  try {
    return new TextEncoder().encode(JSON.stringify(details));
  } catch {
    return new Uint8Array();
  }
}

function decodeDetails(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length === 0) return {};
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The ConnectError a handler's error is answered with; the original is kept as `cause`. */
export function toConnectError(err: unknown): ConnectError {
  if (isPlinthError(err)) {
    const detail = { code: err.code, detailsJson: encodeDetails(err.details) };
    return new ConnectError(
      err.message,
      toConnectCode[err.code],
      undefined,
      [{ desc: ErrorDetailSchema, value: detail }],
      err,
    );
  }
  if (err instanceof ConnectError) return err;
  if (err instanceof Error && err.name === "AbortError") {
    return new ConnectError("the call was canceled", Code.Canceled, undefined, undefined, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(`internal error: ${message}`, Code.Internal, undefined, undefined, err);
}

/** The PlinthError a failed call stands for; the ConnectError is kept as `cause`. */
export function fromConnectError(err: unknown): PlinthError {
  if (isPlinthError(err)) return err;
  const connectError = ConnectError.from(err);
  const [detail] = connectError.findDetails(ErrorDetailSchema);
  const code = errorCodes.includes(detail?.code as ErrorCode)
    ? (detail!.code as ErrorCode)
    : fromConnectCode[connectError.code];
  return new PlinthError(code, connectError.rawMessage, {
    cause: connectError,
    details: detail ? decodeDetails(detail.detailsJson) : {},
  });
}
