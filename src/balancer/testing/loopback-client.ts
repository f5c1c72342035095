import { connect, type Socket } from "node:net";

/** Connects to 127.0.0.1:port; rejects if the connection fails or closes first. */
export function openClient(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: options.allowHalfOpen ?? false });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** Writes `text` and resolves with the first chunk of the answer; rejects on close or after `timeoutMs`. */
export function exchange(socket: Socket, text: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error, answer?: string) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (err) reject(err);
      else resolve(answer!);
    };
    const onData = (chunk: Buffer) => done(undefined, chunk.toString());
    const onClose = () => done(new Error(`connection closed before an answer to '${text}'`));
    const timer = setTimeout(
      () => done(new Error(`no answer to '${text}' within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.write(text);
  });
}

/** One short connection: connect, send, read the answer, close. Resolves with the answer. */
export async function request(port: number, text = "ping"): Promise<string> {
  const socket = await openClient(port);
  try {
    return await exchange(socket, text);
  } finally {
    socket.destroy();
  }
}

/** Resolves when the socket has closed; rejects after `timeoutMs`. */
export function closed(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Polls `check` until it returns true; rejects after `timeoutMs` with `what`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
