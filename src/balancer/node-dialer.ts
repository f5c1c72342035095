import { connect, type NetConnectOpts, type Socket } from "node:net";
import { PlinthError } from "../errors/plinth-error.ts";
import type { Probe } from "./health-checker.ts";
import { attachReader, createRecyclingReader } from "./recycling-reader.ts";
import type { UpstreamAddress } from "./upstream-address.ts";

export interface DialOptions {
  /** Time the TCP handshake may take. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Opens a TCP connection to an upstream; resolves with the connected socket. */
export type Dial = (address: UpstreamAddress, options: DialOptions) => Promise<Socket>;

const osReasons: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "no local address or port available",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
};

/** Errors of this host, not of the upstream: they must not mark an upstream down. */
const localCodes = new Set(["EMFILE", "ENFILE", "EADDRNOTAVAIL", "ENOBUFS", "ENOMEM"]);

/** An OS error of a dial, said in words, with the original as cause. */
function dialError(address: UpstreamAddress, err: NodeJS.ErrnoException): PlinthError {
  const reason = (err.code && osReasons[err.code]) ?? err.message;
  const code = err.code && localCodes.has(err.code) ? "resource_exhausted" : "unavailable";
  return new PlinthError(code, `dial ${address.key}: ${reason}`, { cause: err });
}

type SocketOptions = Omit<NetConnectOpts, "host" | "port">;

function openTcp(
  address: UpstreamAddress,
  options: DialOptions,
  socketOptions: SocketOptions,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    const socket = connect({ host: address.host, port: address.port, ...socketOptions } as NetConnectOpts);
    // Nothing is read before the caller is ready to forward it.
    socket.pause();
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: NodeJS.ErrnoException) => fail(dialError(address, err));
    const onAbort = () => fail(options.signal!.reason as Error);
    const timer = setTimeout(
      () =>
        fail(
          new PlinthError(
            "deadline_exceeded",
            `dial ${address.key}: no answer within ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    );
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("error", onError);
      options.signal?.removeEventListener("abort", onAbort);
    };
    socket.once("error", onError);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      cleanup();
      // Until the caller attaches its own handlers, a late error must not crash the process.
      socket.on("error", ignore);
      resolve(socket);
    });
  });
}

/**
 * The Node adapter for the data path: `net.connect` with TCP_NODELAY, half-close allowed (the
 * proxy forwards a FIN instead of closing both ways) and reads into recycled buffers; returned
 * paused, bounded by a timeout and a signal. Keep-alive is left to the proxy (see `joinSockets`).
 */
export const dialTcp: Dial = (address, options) => {
  const reader = createRecyclingReader();
  return openTcp(address, options, { noDelay: true, allowHalfOpen: true, onread: reader.onread }).then(
    (socket) => {
      attachReader(socket, reader);
      return socket;
    },
  );
};

/** The default health check: a TCP connect, closed at once. */
export const probeTcp: Probe = async (address, signal) => {
  // The checker's signal bounds the probe; this timeout only backs it up.
  const socket = await openTcp(address, { timeoutMs: 60_000, signal }, {});
  socket.destroy();
};

function ignore(): void {}

/** A health check over a dialer: connect, then close at once. */
export function probeWith(dial: Dial): Probe {
  return async (address, signal) => {
    // The checker's signal bounds the probe; the dial's own timeout only backs it up.
    const socket = await dial(address, { timeoutMs: 60_000, signal });
    socket.destroy();
  };
}
