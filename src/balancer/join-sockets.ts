import type { Socket } from "node:net";

export interface JoinOptions {
  /** A connection with no traffic either way for this long is closed; 0 disables. */
  readonly idleTimeoutMs: number;
  /** Once one direction has ended, the other gets at most this long; 0 disables. */
  readonly halfClosedTimeoutMs: number;
  /** Called once, after both sockets closed, with the bytes each way. */
  readonly onClose: (bytesToUpstream: number, bytesFromUpstream: number) => void;
}

/**
 * Copies bytes both ways between two connected sockets (both created with `allowHalfOpen`).
 * `pipe` gives back-pressure: a slow reader pauses the other side's reads, so memory stays at
 * a socket's buffers. An end in one direction is forwarded as a FIN (half-close) while the other
 * direction carries on; an error on either side destroys both. The idle timer sits on the client
 * socket, whose reads and writes both refresh it, so it sees traffic in both directions.
 */
export function joinSockets(client: Socket, upstream: Socket, options: JoinOptions): () => void {
  let open = 2;
  let ended = 0;
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  const onClosed = () => {
    if (--open > 0) return;
    options.onClose(client.bytesRead, client.bytesWritten);
  };
  const onEnd = () => {
    if (++ended === 1 && options.halfClosedTimeoutMs > 0) {
      const idle = options.idleTimeoutMs;
      client.setTimeout(idle > 0 ? Math.min(idle, options.halfClosedTimeoutMs) : options.halfClosedTimeoutMs);
    }
  };
  client.on("error", destroyBoth);
  upstream.on("error", destroyBoth);
  // A side that closed cleanly may leave the other flushing what it still owes; only a side
  // that could still produce bytes with nowhere to go is destroyed.
  client.once("close", (hadError) => {
    if (hadError || !upstream.readableEnded) upstream.destroy();
    onClosed();
  });
  upstream.once("close", (hadError) => {
    if (hadError || !client.readableEnded) client.destroy();
    onClosed();
  });
  client.once("end", onEnd);
  upstream.once("end", onEnd);
  if (options.idleTimeoutMs > 0) client.setTimeout(options.idleTimeoutMs);
  client.on("timeout", destroyBoth);
  client.pipe(upstream);
  upstream.pipe(client);
  return destroyBoth;
}
