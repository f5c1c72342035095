import type { Etcd3, IWatchResponse } from "etcd3";
import type { KeyRange } from "./etcd-keys.ts";

export type StreamEnd =
  | { readonly kind: "stopped" }
  | { readonly kind: "compacted"; readonly revision: number }
  | { readonly kind: "canceled"; readonly reason: string }
  /** Our own handling failed (a value that is not a resource): the watch fails. */
  | { readonly kind: "failed"; readonly error: unknown }
  /** The connection failed: reconnect when transient. */
  | { readonly kind: "error"; readonly error: unknown };

/**
 * One etcd watch stream from `start`, feeding each response to `onResponse` as it arrives;
 * resolves with why it ended. The etcd watcher is released in every case.
 */
export async function runWatchStream(
  client: Etcd3,
  range: KeyRange,
  start: number,
  prevKv: boolean,
  handlers: { onCreated(): void; onResponse(res: IWatchResponse): void },
  stop: AbortSignal,
): Promise<StreamEnd> {
  if (stop.aborted) return { kind: "stopped" };
  let stream: Awaited<ReturnType<Etcd3["watchClient"]["watch"]>>;
  try {
    stream = await client.watchClient.watch();
  } catch (error) {
    return { kind: "error", error };
  }
  return new Promise<StreamEnd>((resolve) => {
    let done = false;
    const finish = (end: StreamEnd) => {
      if (done) return;
      done = true;
      stop.removeEventListener("abort", onStop);
      try {
        // Half-close first: the client then takes the cancel that follows for ours, not for a
        // broken connection it should reset.
        stream.end();
        stream.cancel();
      } catch {
        // already torn down
      }
      resolve(end);
    };
    const onStop = () => finish({ kind: "stopped" });
    stream.on("data", (res: IWatchResponse) => {
      if (done) return;
      if (res.canceled) {
        const compacted = Number(res.compact_revision);
        finish(
          compacted > 0
            ? { kind: "compacted", revision: compacted }
            : { kind: "canceled", reason: res.cancel_reason },
        );
      } else if (res.created) {
        handlers.onCreated();
      } else {
        try {
          handlers.onResponse(res);
        } catch (error) {
          finish({ kind: "failed", error });
        }
      }
    });
    stream.on("error", (error: Error) => finish({ kind: "error", error }));
    stream.on("end", () => finish({ kind: "error", error: new Error("etcd ended the watch stream") }));
    if (stop.aborted) return onStop();
    stop.addEventListener("abort", onStop, { once: true });
    stream.write({
      create_request: {
        key: range.key,
        ...(range.rangeEnd ? { range_end: range.rangeEnd } : {}),
        start_revision: start,
        prev_kv: prevKv,
        progress_notify: true,
      },
    });
  });
}
