import { connect, type Socket } from "node:net";
import { PlinthError } from "../errors/plinth-error.ts";
import type { Probe } from "./health-checker.ts";
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

/**
 * The Node adapter: `net.connect` with TCP_NODELAY and half-close allowed (the proxy forwards a
 * FIN instead of closing both ways), bounded by a timeout and an abort signal.
 */
export const dialTcp: Dial = (address, options) =>
  new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    const socket = connect({
      host: address.host,
      port: address.port,
      noDelay: true,
      allowHalfOpen: true,
      keepAlive: true,
      keepAliveInitialDelay: 30_000,
    });
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

function ignore(): void {}

/** A health check over a dialer: connect, then close at once. */
export function probeWith(dial: Dial): Probe {
  return async (address, signal) => {
    // The checker's signal bounds the probe; the dial's own timeout only backs it up.
    const socket = await dial(address, { timeoutMs: 60_000, signal });
    socket.destroy();
  };
}
