import type { ClientHttp2Session, ClientHttp2Stream } from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";

/**
 * connect-node's Http2SessionManager without one way to crash the process. After a GOAWAY on a
 * connection with no open streams it destroys the session with an error that Node raises only
 * once the socket has closed; if a new request has reconnected meanwhile, the manager no longer
 * listens and the error is uncaught (connectrpc/connect-es#1768): a peer agent or discovery
 * service shutting down gracefully would take the agent down with it. Each session that
 * carried a request gets a listener of ours as well; requests still fail on their own streams.
 */
export class GuardedHttp2SessionManager extends Http2SessionManager {
  readonly #guarded = new WeakSet<ClientHttp2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session as ClientHttp2Session | undefined;
    if (session && !this.#guarded.has(session)) {
      this.#guarded.add(session);
      session.on("error", ignoreLateSessionError);
    }
    return stream;
  }
}

function ignoreLateSessionError(): void {}
