import type { Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { nodesHeader } from "../fanout/node-address.ts";
import { GuardedHttp2SessionManager } from "./http2-session-manager.ts";

export interface ApiTransportOptions {
  /** "https://host:port". */
  readonly url: string;
  readonly tls: {
    /** The API CA, PEM: the server's certificate must be signed by it. */
    readonly ca?: string;
    /** The client certificate and key, PEM; absent in maintenance mode. */
    readonly cert?: string;
    readonly key?: string;
    /** Accept any server certificate: only to reach a machine in maintenance mode. */
    readonly insecure?: boolean;
  };
  /** Default "grpc". */
  readonly protocol?: "grpc" | "grpc-web" | "connect";
  /** Default "2"; gRPC needs HTTP/2. */
  readonly httpVersion?: "2" | "1.1";
  readonly maxMessageBytes?: number;
}

export interface ApiTransport {
  readonly transport: Transport;
  /** Closes the connection. */
  close(): void;
}

/** A transport to a machine's API with the client's certificate: gRPC, gRPC-Web or Connect. */
export function createApiTransport(options: ApiTransportOptions): ApiTransport {
  const protocol = options.protocol ?? "grpc";
  const httpVersion = options.httpVersion ?? "2";
  if (protocol === "grpc" && httpVersion !== "2") {
    throw new RangeError(
      `Cannot create an API transport: gRPC needs HTTP/2, current value is ${httpVersion}`,
    );
  }
  const tls = {
    ca: options.tls.ca,
    cert: options.tls.cert,
    key: options.tls.key,
    rejectUnauthorized: !options.tls.insecure,
  };
  const common = { baseUrl: options.url, readMaxBytes: options.maxMessageBytes };
  if (httpVersion === "1.1") {
    const nodeOptions = { ...tls, agent: false as const };
    const transport =
      protocol === "connect"
        ? createConnectTransport({ ...common, httpVersion, nodeOptions })
        : createGrpcWebTransport({ ...common, httpVersion, nodeOptions });
    return { transport, close() {} };
  }
  const sessionManager = new GuardedHttp2SessionManager(options.url, {}, tls);
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ ...common, sessionManager })
      : protocol === "grpc-web"
        ? createGrpcWebTransport({ ...common, httpVersion, sessionManager })
        : createConnectTransport({ ...common, httpVersion, sessionManager });
  return { transport, close: () => sessionManager.abort() };
}

/** Call options that fan a call out to the given nodes. */
export function toNodes(nodes: readonly string[]): { headers: Headers } {
  return { headers: new Headers({ [nodesHeader]: nodes.join(",") }) };
}
