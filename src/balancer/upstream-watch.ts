import type { Socket } from "node:net";
import type { Dial } from "./node-dialer.ts";
import type { Upstream } from "./upstream-pool.ts";

/**
 * One idle TCP connection held open to each upstream the kernel data path forwards to. The kernel
 * does not tell the balancer about connections that fail, but when an upstream's process dies or
 * restarts its host resets every connection it had, this one too: its close is the balancer's
 * passive signal in kernel mode, seen within a round trip instead of at the next check. A close
 * is only a hint (a server may also close idle connections): `onLost` re-checks the upstream.
 */
export interface UpstreamWatch {
  /** Watches exactly these upstreams: opens what is missing, lets go of the rest. */
  sync(upstreams: readonly Upstream[]): void;
  close(): void;
}

export interface UpstreamWatchOptions {
  readonly dial: Dial;
  readonly timeoutMs: () => number;
  /** The watch connection of a watched upstream closed, or could not be opened. */
  readonly onLost: (upstream: Upstream) => void;
}

export function createUpstreamWatch(options: UpstreamWatchOptions): UpstreamWatch {
  // undefined while the connection is being opened.
  const watched = new Map<Upstream, Socket | undefined>();
  let closed = false;

  function open(upstream: Upstream): void {
    watched.set(upstream, undefined);
    options.dial(upstream.address, { timeoutMs: options.timeoutMs() }).then(
      (socket) => {
        if (closed || !watched.has(upstream)) {
          socket.destroy();
          return;
        }
        watched.set(upstream, socket);
        socket.on("error", () => {});
        // Dialled half-open for the data path: an end from the upstream must close it here.
        socket.on("end", () => socket.destroy());
        socket.on("close", () => {
          if (closed || watched.get(upstream) !== socket) return;
          watched.delete(upstream);
          options.onLost(upstream);
        });
        // Whatever the upstream says is dropped; reading keeps the close observable.
        socket.resume();
      },
      () => {
        if (closed || !watched.has(upstream)) return;
        watched.delete(upstream);
        options.onLost(upstream);
      },
    );
  }

  return {
    sync(upstreams) {
      if (closed) return;
      const wanted = new Set(upstreams);
      for (const [upstream, socket] of watched) {
        if (wanted.has(upstream)) continue;
        watched.delete(upstream);
        socket?.destroy();
      }
      for (const upstream of wanted) if (!watched.has(upstream)) open(upstream);
    },
    close() {
      closed = true;
      for (const socket of watched.values()) socket?.destroy();
      watched.clear();
    },
  };
}
