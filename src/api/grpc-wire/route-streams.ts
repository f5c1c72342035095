import type http2 from "node:http2";

/** Handles an HTTP/2 stream itself and returns true, or returns false to let the request listener have it. */
export type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/**
 * Puts `streams` in front of Node's compatibility layer (the 'stream' listener that a request
 * handler installs): streams it takes never get request/response objects.
 */
export function routeStreams(
  server: http2.Http2Server | http2.Http2SecureServer,
  streams: StreamListener | undefined,
): void {
  if (!streams) return;
  const compat = server.listeners("stream") as ((...args: unknown[]) => void)[];
  server.removeAllListeners("stream");
  server.on(
    "stream",
    (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
      if (streams(stream, headers)) return;
      for (const listener of compat) listener.call(server, stream, headers, ...rest);
    },
  );
}
