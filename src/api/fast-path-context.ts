import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import type { Identity } from "./auth/identity.ts";
import { identityKey } from "./auth/identity.ts";

/**
 * The HandlerContext of a call the gRPC fast path serves: what connect's would hold. The signal,
 * the header objects and the context values are made only when something asks for them (most
 * unary calls never do), and the methods live on the prototype: this is made once per call.
 */
export class FastPathContext implements HandlerContext {
  readonly method: DescMethodUnary;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  #stream: ServerHttp2Stream;
  #headers: IncomingHttpHeaders;
  #identity: () => Identity;
  #shutdown: AbortSignal;
  #deadline: number | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;

  constructor(
    method: DescMethodUnary,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    identity: () => Identity,
    timeoutMs: number | undefined,
    shutdown: AbortSignal,
  ) {
    this.method = method;
    this.#stream = stream;
    this.#headers = headers;
    this.#identity = identity;
    this.#shutdown = shutdown;
    if (timeoutMs !== undefined) {
      this.#deadline = Date.now() + timeoutMs;
      const c = this.#ensure();
      // What connect's deadline signal is aborted with: the same reason on both paths.
      this.#timer = setTimeout(
        () => c.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        timeoutMs,
      );
    }
  }

  get service() {
    return this.method.parent;
  }

  get url(): string {
    return `https://${this.#headers[":authority"] ?? "localhost"}${this.#headers[":path"]}`;
  }

  get signal(): AbortSignal {
    return this.#ensure().signal;
  }

  timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();

  get requestHeader(): Headers {
    if (!this.#requestHeader) {
      const h = new Headers();
      for (const [k, v] of Object.entries(this.#headers)) {
        if (k.startsWith(":") || v === undefined) continue;
        for (const one of [v].flat()) h.append(k, String(one));
      }
      this.#requestHeader = h;
    }
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  get values(): ContextValues {
    this.#values ??= createContextValues().set(identityKey, this.#identity());
    return this.#values;
  }

  /** Headers and trailers the implementation set, if it touched them. */
  metadata(): { header?: Headers; trailer?: Headers } {
    return { header: this.#responseHeader, trailer: this.#responseTrailer };
  }

  /**
   * The call is over: as connect does, whatever still listens to the signal stops. The reason is
   * an AbortError (toConnectError answers it with Canceled), not a ConnectError: building one
   * builds its metadata Headers, and the first Headers loads Node's fetch implementation (~3 MB
   * resident) into an agent that may never need it.
   */
  done(): void {
    clearTimeout(this.#timer);
    const c = this.#controller;
    if (!c) return;
    this.#stream.off("close", this.#onClose);
    this.#shutdown.removeEventListener("abort", this.#onShutdown);
    c.abort(new DOMException("the call is over", "AbortError"));
  }

  #onClose = () => this.#controller?.abort(new DOMException("the client went away", "AbortError"));
  #onShutdown = () => this.#controller?.abort(this.#shutdown.reason);

  #ensure(): AbortController {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#shutdown.aborted) this.#controller.abort(this.#shutdown.reason);
      this.#shutdown.addEventListener("abort", this.#onShutdown, { once: true });
      this.#stream.once("close", this.#onClose);
    }
    return this.#controller;
  }
}
