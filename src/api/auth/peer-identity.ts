import type { X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, Http2Session, IncomingHttpHeaders } from "node:http2";
import type { TLSSocket } from "node:tls";
import { isPlinthError } from "../../errors/plinth-error.ts";
import { impersonatorRole, rolesFromOrganizations } from "../../pki/roles.ts";
import {
  forwardedCertificateHeader,
  parseCertificates,
  verifyForwardedCertificate,
} from "../fanout/forwarded-certificate.ts";
import type { Identity } from "./identity.ts";
import { describeIdentity } from "./identity.ts";

/** What connect-node's `contextValues` receives. */
export type NodeServerRequest = IncomingMessage | Http2ServerRequest;

export interface PeerIdentityOptions {
  /** Whether the server asked clients for certificates (false in maintenance mode). */
  readonly requestClientCert: boolean;
  /** The API CA(s), PEM: forwarded caller certificates must be issued by one of them. */
  readonly ca?: string | readonly string[];
}

const tlsErrors: Record<string, string> = {
  CERT_HAS_EXPIRED: "it has expired",
  CERT_NOT_YET_VALID: "it is not valid yet",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "it is not signed by the API CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "it is not signed by the API CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed, not signed by the API CA",
  SELF_SIGNED_CERT_IN_CHAIN: "it is not signed by the API CA",
  CERT_SIGNATURE_FAILURE: "its signature is invalid",
};

function tlsSocket(req: NodeServerRequest): { key: object; socket: TLSSocket } {
  const stream = (req as Partial<Http2ServerRequest>).stream;
  // HTTP/2: one identity per session (connection), looked up for each of its streams.
  if (stream) return { key: stream.session!, socket: stream.session!.socket as TLSSocket };
  return { key: req.socket, socket: req.socket as TLSSocket };
}

function fromSocket(socket: TLSSocket, requestClientCert: boolean): Identity {
  if (!requestClientCert) {
    return { kind: "anonymous", reason: "the server does not ask for client certificates" };
  }
  const cert = typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate() : undefined;
  if (!cert?.raw) return { kind: "anonymous", reason: "no client certificate was presented" };
  const subject = String(cert.subject?.CN ?? "");
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? "unknown");
    const why = tlsErrors[code] ?? "it failed verification";
    return {
      kind: "anonymous",
      reason: `the client certificate CN=${subject} was rejected: ${why} (${code})`,
    };
  }
  const organization = cert.subject?.O;
  const organizations = organization === undefined ? [] : [organization].flat();
  return {
    kind: "certificate",
    subject,
    roles: rolesFromOrganizations(organizations),
    certificate: new Uint8Array(cert.raw),
  };
}

/** Resolves the caller of a request (connect's `contextValues`) or of a bare HTTP/2 stream. */
export interface PeerIdentityResolver {
  (req: NodeServerRequest): Identity;
  /** The same for a stream served without request objects (the gRPC fast path). */
  ofStream(session: Http2Session, headers: IncomingHttpHeaders): Identity;
}

/**
 * Establishes the caller's identity from the TLS connection of a request, for connect's
 * `contextValues`. A call forwarded by another node during fan-out is the forwarded caller's,
 * not the node's (see ../fanout/forwarded-certificate.ts).
 */
export function createPeerIdentityResolver(options: PeerIdentityOptions): PeerIdentityResolver {
  const cache = new WeakMap<object, Identity>();
  const cas: X509Certificate[] = options.ca ? parseCertificates(options.ca) : [];

  function resolve(key: object, socket: TLSSocket, forwarded: string | string[] | undefined): Identity {
    let peer = cache.get(key);
    if (!peer) {
      peer = fromSocket(socket, options.requestClientCert);
      cache.set(key, peer);
    }
    if (forwarded === undefined || peer.kind === "anonymous") return peer;
    if (!peer.roles.includes(impersonatorRole)) {
      return {
        kind: "anonymous",
        reason: `only a node certificate (${impersonatorRole}) may forward a caller's certificate, the peer is ${describeIdentity(peer)}`,
      };
    }
    try {
      const caller = verifyForwardedCertificate(String(forwarded), cas);
      return {
        kind: "certificate",
        subject: caller.subject,
        roles: caller.roles,
        certificate: caller.der,
        forwardedBy: peer.subject,
      };
    } catch (err) {
      if (!isPlinthError(err)) throw err;
      return { kind: "anonymous", reason: err.message };
    }
  }

  const ofRequest = (req: NodeServerRequest): Identity => {
    const { key, socket } = tlsSocket(req);
    return resolve(key, socket, req.headers[forwardedCertificateHeader]);
  };
  // HTTP/2: one identity per session (connection), as for requests.
  const ofStream = (session: Http2Session, headers: IncomingHttpHeaders): Identity =>
    resolve(session, session.socket as TLSSocket, headers[forwardedCertificateHeader]);
  return Object.assign(ofRequest, { ofStream });
}
