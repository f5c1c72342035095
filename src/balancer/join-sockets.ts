import type { Socket } from "node:net";
import { readerOf } from "./recycling-reader.ts";

export interface JoinOptions {
  /** A connection with no traffic either way for this long is closed; 0 disables. */
  readonly idleTimeoutMs: number;
  /** Once one direction has ended, the other gets at most this long; 0 disables. */
  readonly halfClosedTimeoutMs: number;
  /**
   * After this long without traffic, TCP keep-alive is switched on towards the upstream, so that a
   * silently dead upstream host is noticed; 0 never. The idle timeout still counts from the last
   * traffic (the timer is re-armed for what is left of it).
   */
  readonly keepAliveAfterMs: number;
  /** Called once, after both sockets closed, with the bytes each way. */
  readonly onClose: (bytesToUpstream: number, bytesFromUpstream: number) => void;
}

/**
 * Copies bytes one way with back-pressure: when `to` is over its high-water mark, `from` stops
 * reading until `to` drains, so memory stays at a socket's buffers whatever the peers' speeds.
 * An end is passed on as an end (a FIN, half-close). This is `pipe` without its bookkeeping,
 * which costs more than the copy on short connections.
 */
function forward(from: Socket, to: Socket): void {
  const reader = readerOf(from);
  if (reader) reader.forwardTo(to);
  else
    from.on("data", (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
  to.on("drain", () => from.resume());
  from.once("end", () => to.end());
  from.resume();
}

/**
 * Joins a client and an upstream socket (both created with `allowHalfOpen`, both paused) into
 * one proxied connection. An end in one direction is forwarded while the other direction carries
 * on; an error on either side destroys both. The idle timer sits on the client socket, whose reads
 * and writes both refresh it, so it sees traffic in both directions.
 */
export function joinSockets(client: Socket, upstream: Socket, options: JoinOptions): void {
  let open = 2;
  let ended = 0;
  const idle = options.idleTimeoutMs;
  const probeAfter = options.keepAliveAfterMs;
  // One timer per connection, on the client socket: first until keep-alive, then until idle.
  let keptAlive = probeAfter === 0 || (idle > 0 && probeAfter >= idle);
  let halfClosed = false;
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  const onClosed = () => {
    if (--open > 0) return;
    readerOf(upstream)?.release();
    readerOf(client)?.release();
    options.onClose(client.bytesRead, client.bytesWritten);
  };
  const onEnd = () => {
    if (++ended === 1 && options.halfClosedTimeoutMs > 0) {
      halfClosed = true;
      client.setTimeout(idle > 0 ? Math.min(idle, options.halfClosedTimeoutMs) : options.halfClosedTimeoutMs);
    }
  };
  const onTimeout = () => {
    if (keptAlive || halfClosed) {
      destroyBoth();
      return;
    }
    keptAlive = true;
    upstream.setKeepAlive(true, 1000);
    client.setTimeout(idle > 0 ? idle - probeAfter : 0);
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
  client.setTimeout(keptAlive ? idle : probeAfter);
  client.on("timeout", onTimeout);
  forward(client, upstream);
  forward(upstream, client);
}
