/**
 * The one error type of Plinth. Codes form a closed set; each boundary (API server, API client,
 * host adapter) translates to and from its own vocabulary in exactly one place.
 */
export const errorCodes = [
  "not_found",
  "already_exists",
  "conflict",
  "owner_conflict",
  "phase_conflict",
  "invalid_argument",
  "failed_precondition",
  "permission_denied",
  "unauthenticated",
  "unavailable",
  "deadline_exceeded",
  "canceled",
  "resource_exhausted",
  "history_lost",
  "unimplemented",
  "internal",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface PlinthErrorOptions {
  cause?: unknown;
  /** Structured details a caller may act on, e.g. the last bookmark of a lost watch. */
  details?: Record<string, unknown>;
}

export class PlinthError extends Error {
  override readonly name = "PlinthError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PlinthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Recognises a PlinthError structurally, so errors from another copy of the module still match. */
export function isPlinthError(err: unknown): err is PlinthError {
  return (
    typeof err === "object" &&
    err !== null &&
    (err as { name?: unknown }).name === "PlinthError" &&
    errorCodes.includes((err as { code?: unknown }).code as ErrorCode)
  );
}

export function hasCode(err: unknown, code: ErrorCode): boolean {
  return isPlinthError(err) && err.code === code;
}

export const isNotFound = (err: unknown): boolean => hasCode(err, "not_found");
export const isAlreadyExists = (err: unknown): boolean => hasCode(err, "already_exists");
export const isConflict = (err: unknown): boolean => hasCode(err, "conflict");
export const isOwnerConflict = (err: unknown): boolean => hasCode(err, "owner_conflict");
export const isPhaseConflict = (err: unknown): boolean => hasCode(err, "phase_conflict");
export const isInvalidArgument = (err: unknown): boolean => hasCode(err, "invalid_argument");
export const isHistoryLost = (err: unknown): boolean => hasCode(err, "history_lost");
export const isCanceled = (err: unknown): boolean => hasCode(err, "canceled");
