import type { Socket } from "node:net";

const chunkSize = 64 * 1024;
/** Buffers of closed connections kept for new ones (at most 4 MiB): short connections then allocate none. */
const spare: Buffer[] = [];
const maxSpare = 64;

/**
 * Reads of a socket into one buffer that is reused while the destination takes every chunk at
 * once (the usual case), instead of a fresh 64 KiB allocation per read. A chunk the destination
 * has to queue keeps its buffer and the next read gets a new one, so queued bytes are never
 * overwritten. Used through `onread` when the socket is created; `forwardTo` starts the flow.
 */
export interface RecyclingReader {
  /** Pass as `net.connect({ onread })`. */
  readonly onread: { buffer: () => Buffer; callback: (bytes: number, buffer: Buffer) => boolean };
  /** Writes what the socket reads to `dest`; reading pauses while `dest` is over its high-water mark. */
  forwardTo(dest: Socket): void;
  /** Gives the buffer back for other connections; only once the socket and `dest` have closed. */
  release(): void;
}

/** Where a socket keeps its reader: a property, not a WeakMap (whose writes cost the GC more). */
const readerKey = Symbol("plinth.recyclingReader");
type WithReader = Socket & { [readerKey]?: RecyclingReader };

export function createRecyclingReader(): RecyclingReader {
  let current = spare.pop() ?? Buffer.allocUnsafe(chunkSize);
  let held = false;
  let dest: Socket | undefined;
  let early: Buffer[] = [];
  return {
    onread: {
      buffer() {
        if (held) {
          current = Buffer.allocUnsafe(chunkSize);
          held = false;
        }
        return current;
      },
      callback(bytes, buffer) {
        const chunk = buffer.subarray(0, bytes);
        if (!dest) {
          // Bytes before forwarding started (a server that speaks first): keep a copy, stop reading.
          early.push(Buffer.from(chunk));
          return false;
        }
        const more = dest.write(chunk);
        held = dest.writableLength > 0;
        return more;
      },
    },
    forwardTo(to) {
      dest = to;
      for (const chunk of early) to.write(chunk);
      early = [];
    },
    release() {
      // A held buffer may still be referenced by the destination's queue; only a free one goes back.
      if (!held && spare.length < maxSpare) spare.push(current);
      held = true;
    },
  };
}

/** Remembers the reader of a socket created with its `onread`. */
export function attachReader(socket: Socket, reader: RecyclingReader): void {
  (socket as WithReader)[readerKey] = reader;
}

export function readerOf(socket: Socket): RecyclingReader | undefined {
  return (socket as WithReader)[readerKey];
}
