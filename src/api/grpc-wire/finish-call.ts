import type { ServerHttp2Stream } from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { encodeGrpcMessage } from "./grpc-message.ts";

/** The response headers of a gRPC call; Node copies headers it is given, so one object serves all. */
export const grpcResponseHeaders = { ":status": 200, "content-type": "application/grpc" };
export const grpcOkTrailers: Readonly<Record<string, string>> = { "grpc-status": "0" };

/** grpc-status and grpc-message, without details. */
export function statusTrailers(code: number, message: string): Record<string, string> {
  if (code === 0 && !message) return grpcOkTrailers as Record<string, string>;
  return message
    ? { "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) }
    : { "grpc-status": String(code) };
}

/** grpc-status, grpc-message and grpc-status-details-bin, written as connect writes them. */
export function errorTrailers(err: ConnectError): Record<string, string> {
  const headers = new Headers();
  setTrailerStatus(headers, err);
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/**
 * Ends a call: the body (if any) then the trailers, or a trailers-only answer when nothing was
 * sent. Does nothing on a stream the client already closed.
 */
export function finishCall(
  stream: ServerHttp2Stream,
  trailers: Record<string, string>,
  body?: Buffer,
  headers?: Record<string, string>,
): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) {
    const head = headers ? { ...headers, ...grpcResponseHeaders } : grpcResponseHeaders;
    if (!body) {
      stream.respond({ ...head, ...trailers }, { endStream: true });
      return;
    }
    stream.respond(head, { waitForTrailers: true });
  }
  stream.once("wantTrailers", () => {
    if (!stream.destroyed) stream.sendTrailers(trailers);
  });
  if (body) stream.end(body);
  else stream.end();
}
