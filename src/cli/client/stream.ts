import { cleanMessage, describeRemoteError, nodeOf } from "./remote-call.ts";
import type { ApiSession } from "./session.ts";

interface StreamMessage {
  readonly metadata?: { readonly node: string; readonly error: string; readonly code: string };
}

/**
 * Reads a server stream until it ends or the user interrupts (Ctrl-C ends it quietly). A node
 * that failed is reported on stderr and makes the exit code non-zero; the rest go to `each`
 * with the node they came from.
 */
export async function readStream<M extends StreamMessage>(
  session: ApiSession,
  open: (signal: AbortSignal) => AsyncIterable<M>,
  each: (message: M, node: string) => void,
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for await (const m of open(ac.signal)) {
      if (m.metadata?.error) {
        process.stderr.write(`plinth: node ${m.metadata.node || "?"}: ${cleanMessage(m.metadata.error)}\n`);
        process.exitCode = 1;
        continue;
      }
      each(m, nodeOf(m, session));
    }
  } catch (err) {
    if (!ac.signal.aborted) throw describeRemoteError(err, session);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
