import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { fromConnectError } from "../../../../api/error-mapping.ts";
import type { Metadata } from "../../../../api/gen/plinth/common/v1alpha1/common_pb.ts";
import type { WatchRequestSchema } from "../../../../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { ResourceService, WatchEventType } from "../../../../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import {
  expectedPhaseToWire,
  labelQueryToWire,
  resourceFromWire,
  resourceToWire,
  watchEventFromWire,
} from "../../../../api/resource-wire.ts";
import { type ErrorCode, errorCodes, PlinthError } from "../../../../errors/plinth-error.ts";
import type { Pointer, Resource } from "../../../resource/resource.ts";
import type { CoreState, WatchEvent } from "../../core-state.ts";

export interface RemoteStateOptions {
  /** A transport to a machine API (mTLS in production, in-process in tests). */
  readonly transport: Transport;
}

/** The one reply of a call that was not fanned out, or its node's error. */
function single<R extends { metadata?: Metadata }>(replies: readonly R[], rpc: string): R {
  const reply = replies[0];
  if (!reply) throw new PlinthError("internal", `${rpc} answered with no reply`);
  if (reply.metadata?.error) {
    const code = errorCodes.includes(reply.metadata.code as ErrorCode)
      ? (reply.metadata.code as ErrorCode)
      : "internal";
    throw new PlinthError(code, reply.metadata.error);
  }
  return reply;
}

async function translated<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromConnectError(err);
  }
}

/**
 * A CoreState served by another machine's ResourceService. Same contract as every backend
 * (the shared conformance suite runs against it over mTLS): the server's state enforces the
 * rules, this end translates.
 *
 * A watch is opened on the server as soon as watch() returns, and a write issued after that waits
 * until the server has confirmed the subscription (the ESTABLISHED message): a watch opened
 * before a write sees the write, as with an in-process state.
 */
export function createRemoteState(options: RemoteStateOptions): CoreState {
  const client = createClient(ResourceService, options.transport);
  const closing = new AbortController();
  const establishing = new Set<Promise<unknown>>();

  function signalOf(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, closing.signal]) : closing.signal;
  }

  function checkOpen(): void {
    if (closing.signal.aborted) throw new PlinthError("unavailable", "state is closed");
  }

  async function beforeWrite(): Promise<void> {
    checkOpen();
    if (establishing.size > 0) await Promise.allSettled(establishing);
  }

  function openWatch(
    req: MessageInitShape<typeof WatchRequestSchema>,
    userSignal: AbortSignal | undefined,
  ): AsyncIterable<WatchEvent> {
    checkOpen();
    const stop = new AbortController();
    const signal = AbortSignal.any([signalOf(userSignal), stop.signal]);
    const stream = client.watch(req, { signal })[Symbol.asyncIterator]();
    const established = stream.next().then((first) => {
      if (first.done || first.value.eventType !== WatchEventType.ESTABLISHED) {
        throw new PlinthError("internal", "the watch did not start with ESTABLISHED");
      }
    });
    establishing.add(established);
    const settled = established.then(
      () => establishing.delete(established),
      () => establishing.delete(established),
    );
    let finished = false;
    const finish = (): IteratorResult<WatchEvent> => {
      finished = true;
      stop.abort();
      return { done: true, value: undefined };
    };

    const iterator: AsyncIterator<WatchEvent> = {
      async next() {
        if (finished) return { done: true, value: undefined };
        try {
          await settled;
          await established;
          for (;;) {
            const r = await stream.next();
            if (r.done) return finish();
            const event = watchEventFromWire(r.value);
            if (event) return { done: false, value: event };
          }
        } catch (err) {
          // Ended by the caller's signal, break or close(): a clean end, as in-process.
          if (signal.aborted) return finish();
          finish();
          throw fromConnectError(err);
        }
      },
      async return() {
        return finish();
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  return {
    async get<S>(ptr: Pointer<S>, o?: { signal?: AbortSignal }): Promise<Resource<S>> {
      checkOpen();
      const res = await translated(() =>
        client.get({ namespace: ptr.namespace, type: ptr.type, id: ptr.id }, { signal: signalOf(o?.signal) }),
      );
      return resourceFromWire(single(res.messages, "Get").resource) as Resource<S>;
    },
    async list(kind, o) {
      checkOpen();
      const res = await translated(() =>
        client.list(
          { namespace: kind.namespace, type: kind.type, labelQuery: labelQueryToWire(o?.labelQuery) },
          { signal: signalOf(o?.signal) },
        ),
      );
      return single(res.messages, "List").resources.map(resourceFromWire);
    },
    async create<S>(
      resource: Resource<S>,
      o?: { owner?: string; signal?: AbortSignal },
    ): Promise<Resource<S>> {
      await beforeWrite();
      const res = await translated(() =>
        client.create(
          { resource: resourceToWire(resource), owner: o?.owner ?? "" },
          { signal: signalOf(o?.signal) },
        ),
      );
      return resourceFromWire(single(res.messages, "Create").resource) as Resource<S>;
    },
    async update(resource, o) {
      await beforeWrite();
      const res = await translated(() =>
        client.update(
          {
            resource: resourceToWire(resource),
            owner: o?.owner ?? "",
            expectedPhase: expectedPhaseToWire(o?.expectedPhase),
          },
          { signal: signalOf(o?.signal) },
        ),
      );
      return resourceFromWire(single(res.messages, "Update").resource) as typeof resource;
    },
    async destroy(ptr, o) {
      await beforeWrite();
      const res = await translated(() =>
        client.destroy(
          { namespace: ptr.namespace, type: ptr.type, id: ptr.id, owner: o?.owner ?? "" },
          { signal: signalOf(o?.signal) },
        ),
      );
      single(res.messages, "Destroy");
    },
    watch(ptr, o = {}) {
      return openWatch(
        {
          namespace: ptr.namespace,
          type: ptr.type,
          id: ptr.id,
          tailEvents: o.tailEvents,
          startFromBookmark: o.startFromBookmark ?? "",
        },
        o.signal,
      );
    },
    watchKind(kind, o = {}) {
      return openWatch(
        {
          namespace: kind.namespace,
          type: kind.type,
          bootstrapContents: o.bootstrapContents ?? false,
          tailEvents: o.tailEvents,
          startFromBookmark: o.startFromBookmark ?? "",
          labelQuery: labelQueryToWire(o.labelQuery),
        },
        o.signal,
      );
    },
    async close() {
      closing.abort();
    },
  };
}
