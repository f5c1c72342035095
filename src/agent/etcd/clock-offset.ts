import { request } from "node:https";

/**
 * Bounds on how far a peer's clock is ahead of this machine's (negative: behind), ms. HTTP
 * `Date` headers have second resolution, so the peer's time at the answer lies within
 * [Date, Date + 1 s); this machine's time then lies within the request's round trip.
 */
export interface ClockOffset {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The offset bounds from one exchange: local send and receive times and the peer's Date header. */
export function offsetBounds(sentAt: number, receivedAt: number, dateHeader: string): ClockOffset {
  const peer = Date.parse(dateHeader);
  if (Number.isNaN(peer)) throw new Error(`the answer's Date header '${dateHeader}' is not a date`);
  return { minMs: peer - receivedAt, maxMs: peer + 1000 - sentAt };
}

/**
 * Asks an etcd member (`GET <clientUrl>/version`, with the agent's etcd client certificate) and
 * reads the Date header its HTTP server sets. One small request: cheap enough to run every 30 s.
 */
export async function measureClockOffset(
  clientUrl: string,
  tls: { readonly ca: string; readonly cert: string; readonly key: string },
  options: { signal?: AbortSignal } = {},
): Promise<ClockOffset> {
  const url = new URL("/version", clientUrl);
  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const req = request(
      url,
      { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: 2000, signal: options.signal },
      (res) => {
        const receivedAt = Date.now();
        res.resume();
        const date = res.headers.date;
        if (!date) {
          reject(new Error(`${url.origin} sent no Date header`));
          return;
        }
        try {
          resolve(offsetBounds(sentAt, receivedAt, date));
        } catch (err) {
          reject(err);
        }
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url.origin} did not answer within 2 s`)));
    req.on("error", reject);
    req.end();
  });
}
