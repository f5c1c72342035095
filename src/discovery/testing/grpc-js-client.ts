import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
// grpc-js comes with etcd3 (a dependency); tests use it as an independent gRPC implementation.
import * as grpc from "@grpc/grpc-js";
import {
  AffiliateDeleteRequestSchema,
  AffiliateDeleteResponseSchema,
  AffiliateUpdateRequestSchema,
  AffiliateUpdateResponseSchema,
  HelloRequestSchema,
  HelloResponseSchema,
  ListRequestSchema,
  ListResponseSchema,
  WatchRequestSchema,
  WatchResponseSchema,
} from "../../api/gen/sidero/discovery/server/cluster_pb.ts";

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly headers?: Record<string, string>;
}

/** The Cluster service through @grpc/grpc-js: the same calls as a connect client, over another gRPC stack. */
export interface GrpcJsClusterClient {
  hello(
    req: MessageInitShape<typeof HelloRequestSchema>,
    options?: CallOptions,
  ): Promise<MessageShape<typeof HelloResponseSchema>>;
  affiliateUpdate(
    req: MessageInitShape<typeof AffiliateUpdateRequestSchema>,
    options?: CallOptions,
  ): Promise<MessageShape<typeof AffiliateUpdateResponseSchema>>;
  affiliateDelete(
    req: MessageInitShape<typeof AffiliateDeleteRequestSchema>,
    options?: CallOptions,
  ): Promise<MessageShape<typeof AffiliateDeleteResponseSchema>>;
  list(
    req: MessageInitShape<typeof ListRequestSchema>,
    options?: CallOptions,
  ): Promise<MessageShape<typeof ListResponseSchema>>;
  watch(
    req: MessageInitShape<typeof WatchRequestSchema>,
    options?: CallOptions,
  ): AsyncIterable<MessageShape<typeof WatchResponseSchema>>;
  close(): void;
}

const path = (m: string) => `/sidero.discovery.server.Cluster/${m}`;

function metadataOf(options: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.headers ?? {})) md.set(k, v);
  return md;
}

function callOptions(options: CallOptions): grpc.CallOptions {
  return options.timeoutMs === undefined ? {} : { deadline: new Date(Date.now() + options.timeoutMs) };
}

export function createGrpcJsClusterClient(address: string): GrpcJsClusterClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());

  function unary<I extends DescMessage, O extends DescMessage>(method: string, input: I, output: O) {
    return (req: MessageInitShape<I>, options: CallOptions = {}) =>
      new Promise<MessageShape<O>>((resolve, reject) => {
        const call = client.makeUnaryRequest(
          path(method),
          (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
          (b: Buffer) => fromBinary(output, b),
          create(input, req),
          metadataOf(options),
          callOptions(options),
          (err, res) => (err ? reject(err) : resolve(res!)),
        );
        options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
      });
  }

  return {
    hello: unary("Hello", HelloRequestSchema, HelloResponseSchema),
    affiliateUpdate: unary("AffiliateUpdate", AffiliateUpdateRequestSchema, AffiliateUpdateResponseSchema),
    affiliateDelete: unary("AffiliateDelete", AffiliateDeleteRequestSchema, AffiliateDeleteResponseSchema),
    list: unary("List", ListRequestSchema, ListResponseSchema),
    async *watch(req, options = {}) {
      const call = client.makeServerStreamRequest(
        path("Watch"),
        (m: MessageShape<typeof WatchRequestSchema>) => Buffer.from(toBinary(WatchRequestSchema, m)),
        (b: Buffer) => fromBinary(WatchResponseSchema, b),
        create(WatchRequestSchema, req),
        metadataOf(options),
        callOptions(options),
      );
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const message of call as AsyncIterable<MessageShape<typeof WatchResponseSchema>>)
          yield message;
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
        call.cancel();
      }
    },
    close: () => client.close(),
  };
}
