import { fromConnectError } from "../../api/error-mapping.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { ApiSession } from "./session.ts";

/** Node appends advice about system CAs that does not apply to a private cluster CA. */
export function cleanMessage(message: string): string {
  return message.replace(/; if the root CA is installed locally.*$/s, "");
}

const tlsProblem = /certificate|self[- ]signed|SSL|TLS|handshake|CERT_/i;

/** One clear line for a failed call: unreachable endpoint, TLS failure, or the server's word. */
export function describeRemoteError(
  err: unknown,
  session: Pick<ApiSession, "endpoint" | "identity">,
): PlinthError {
  const e = fromConnectError(err);
  const raw = cleanMessage(e.message);
  if (tlsProblem.test(raw) && (e.code === "unavailable" || e.code === "internal")) {
    return new PlinthError(
      "unavailable",
      `TLS failure talking to ${session.endpoint}: ${raw} (check the context's CA; a machine in maintenance mode needs --insecure)`,
      { cause: e },
    );
  }
  if (e.code === "unavailable") {
    return new PlinthError("unavailable", `cannot reach ${session.endpoint}: ${raw}`, { cause: e });
  }
  if (e.code === "deadline_exceeded") {
    return new PlinthError("deadline_exceeded", `${session.endpoint} did not answer in time: ${raw}`, {
      cause: e,
    });
  }
  if (e.code === "permission_denied" && !/role|maintenance/.test(raw)) {
    return new PlinthError("permission_denied", `${raw} (using ${session.identity})`, { cause: e });
  }
  return e;
}

/** Runs a call, translating its failure into one clear error. */
export async function remote<T>(session: ApiSession, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw describeRemoteError(err, session);
  }
}

interface NodeReply {
  readonly metadata?: { readonly node: string; readonly error: string; readonly code: string };
}

/**
 * Splits the replies of a (possibly fanned-out) call: failed nodes are reported on stderr and
 * make the exit code non-zero; the rest are returned.
 */
export function answered<R extends NodeReply>(replies: readonly R[]): R[] {
  const ok: R[] = [];
  for (const r of replies) {
    if (r.metadata?.error) {
      process.stderr.write(`plinth: node ${r.metadata.node || "?"}: ${cleanMessage(r.metadata.error)}\n`);
      process.exitCode = 1;
    } else ok.push(r);
  }
  return ok;
}

export function nodeOf(reply: NodeReply, session: Pick<ApiSession, "endpoint">): string {
  return reply.metadata?.node || new URL(session.endpoint).hostname;
}
