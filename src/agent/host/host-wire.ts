import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { errorCodes, isPlinthError, PlinthError } from "../../errors/plinth-error.ts";
import type { Host } from "./host.ts";

/**
 * A Host served over a pair of streams, one JSON object a line, so that a host living in other
 * namespaces (a test sandbox, a local-cluster node) can be driven from this process. Requests
 * `{id, method, args}` are answered by `{id, result}` or `{id, error: {code, message}}`, in any
 * order; several may be in flight. Abort signals stay on the calling side.
 */
const methods = [
  "readFile",
  "writeFileAtomic",
  "appendFile",
  "removeFile",
  "fileMode",
  "readSysctl",
  "writeSysctl",
  "hostname",
  "setHostname",
  "run",
  "ipJson",
] as const satisfies readonly (keyof Host)[];

type Method = (typeof methods)[number];

interface Request {
  readonly id: number;
  readonly method: Method;
  readonly args: unknown[];
}

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface WireStreams {
  readonly input: Readable;
  readonly output: Writable;
}

/** A Host reached over streams; `close` ends the connection and fails calls still waiting. */
export interface ConnectedHost extends Host {
  close(): void;
}

/** Answers Host calls read from `input` on `output` until `input` ends. */
export function serveHost(host: Host, streams: WireStreams): Promise<void> {
  const lines = createInterface({ input: streams.input, crlfDelay: Number.POSITIVE_INFINITY });
  const pending = new Set<Promise<void>>();
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    const done = answer(host, line).then((reply) => {
      streams.output.write(`${JSON.stringify(reply)}\n`);
    });
    pending.add(done);
    void done.finally(() => pending.delete(done));
  });
  return new Promise((resolve) => {
    lines.once("close", () => {
      void Promise.all(pending).then(() => resolve());
    });
  });
}

async function answer(host: Host, line: string): Promise<Reply> {
  let request: Request;
  try {
    request = JSON.parse(line) as Request;
  } catch {
    return { id: -1, error: { code: "invalid_argument", message: `host wire: not JSON: ${line}` } };
  }
  if (!methods.includes(request.method)) {
    return {
      id: request.id,
      error: { code: "unimplemented", message: `host wire: unknown method ${String(request.method)}` },
    };
  }
  try {
    const fn = host[request.method] as (...args: unknown[]) => Promise<unknown>;
    // JSON has no undefined: an omitted optional argument arrives as null.
    const args = request.args.map((a) => (a === null ? undefined : a));
    const result = await fn.apply(host, args);
    return result === undefined ? { id: request.id } : { id: request.id, result };
  } catch (err) {
    const code = isPlinthError(err) ? err.code : "internal";
    return { id: request.id, error: { code, message: (err as Error).message ?? String(err) } };
  }
}

/** The client side: a Host whose every call is answered by `serveHost` at the other end. */
export function connectHost(streams: WireStreams): ConnectedHost {
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let closed: PlinthError | undefined;
  const lines = createInterface({ input: streams.input, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (line) => {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      return; // not a reply (stray output of the host process)
    }
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.error) {
      const code = errorCodes.find((c) => c === reply.error!.code) ?? "internal";
      w.reject(new PlinthError(code, reply.error.message));
    } else {
      w.resolve(reply.result);
    }
  });
  lines.once("close", () => fail(new PlinthError("unavailable", "host connection closed")));

  function fail(err: PlinthError): void {
    closed ??= err;
    for (const w of waiting.values()) w.reject(closed);
    waiting.clear();
  }

  function call<T>(method: Method, args: unknown[], signal?: AbortSignal): Promise<T> {
    if (closed) return Promise.reject(closed);
    signal?.throwIfAborted();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      signal?.addEventListener(
        "abort",
        () => {
          waiting.delete(id);
          reject(new PlinthError("canceled", `host ${method} canceled`, { cause: signal.reason }));
        },
        { once: true },
      );
      streams.output.write(`${JSON.stringify({ id, method, args } satisfies Request)}\n`);
    });
  }

  /** Run options without the signal, which cannot cross the wire. */
  const wireOptions = (o?: { timeoutMs?: number; input?: string }) =>
    o === undefined ? [] : [{ timeoutMs: o.timeoutMs, input: o.input }];

  return {
    readFile: (path) => call("readFile", [path]),
    writeFileAtomic: (path, content, o) => call("writeFileAtomic", [path, content, o]),
    appendFile: (path, content, o) => call("appendFile", [path, content, o]),
    removeFile: (path) => call("removeFile", [path]),
    fileMode: (path) => call("fileMode", [path]),
    readSysctl: (key) => call("readSysctl", [key]),
    writeSysctl: (key, value) => call("writeSysctl", [key, value]),
    hostname: () => call("hostname", []),
    setHostname: (name) => call("setHostname", [name]),
    run: (command, args, o) => call("run", [command, args, ...wireOptions(o)], o?.signal),
    ipJson: <T>(args: readonly string[], o?: Parameters<Host["run"]>[2]) =>
      call<T>("ipJson", [args, ...wireOptions(o)], o?.signal),
    close() {
      fail(new PlinthError("unavailable", "host connection closed"));
      streams.output.end();
      lines.close();
    },
  };
}
