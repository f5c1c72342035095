import { create } from "@bufbuild/protobuf";
import {
  type AffiliateDeleteRequest,
  type AffiliateDeleteResponse,
  AffiliateDeleteResponseSchema,
  AffiliateSchema,
  type AffiliateUpdateRequest,
  type AffiliateUpdateResponse,
  AffiliateUpdateResponseSchema,
  type HelloRequest,
  type HelloResponse,
  HelloResponseSchema,
  type ListRequest,
  type ListResponse,
  ListResponseSchema,
  type WatchRequest,
  type WatchResponse,
  WatchResponseSchema,
  type Affiliate as WireAffiliate,
} from "../../api/gen/sidero/discovery/server/cluster_pb.ts";
import type { IpAddress } from "../../config/net/ip.ts";
import type { StoredAffiliate } from "./affiliate-record.ts";
import type { ClusterEvent } from "./cluster-table.ts";
import type { DiscoveryStore } from "./discovery-store.ts";
import {
  checkAffiliateData,
  checkAffiliateId,
  checkClusterId,
  checkEndpoints,
  checkTtl,
} from "./validate-request.ts";

/** What a handler knows of the call besides its message, whichever transport carried it. */
export interface CallContext {
  /** The client's address (see client-ip.ts); undefined when unknown. */
  readonly clientIp: IpAddress | undefined;
  /** Aborted when the client goes away or the deadline passes. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the client wants an answer. */
  readonly deadline?: number;
}

/** The Cluster service, independent of the transport (connect, or the fast gRPC path). */
export interface ClusterHandlers {
  hello(req: HelloRequest, call: CallContext): Promise<HelloResponse>;
  affiliateUpdate(req: AffiliateUpdateRequest, call: CallContext): Promise<AffiliateUpdateResponse>;
  affiliateDelete(req: AffiliateDeleteRequest, call: CallContext): Promise<AffiliateDeleteResponse>;
  list(req: ListRequest, call: CallContext): Promise<ListResponse>;
  watch(req: WatchRequest, call: CallContext): AsyncIterable<WatchResponse>;
}

export type ClusterMethod = keyof ClusterHandlers;

export interface ClusterHandlersOptions {
  readonly store: DiscoveryStore;
  /** gRPC endpoint Hello sends clients to (they reconnect there at once). */
  readonly redirectEndpoint?: string;
}

// Messages are built as plain objects (what `create` returns, without its per-field reflection):
// these are the hot path of every watcher.
const affiliateType = AffiliateSchema.typeName as "sidero.discovery.server.Affiliate";
const watchResponseType = WatchResponseSchema.typeName as "sidero.discovery.server.WatchResponse";

function wireAffiliate(a: StoredAffiliate): WireAffiliate {
  return { $typeName: affiliateType, id: a.id, data: a.data, endpoints: a.endpoints.map((e) => e.data) };
}

// One message per change, shared by every watcher of the cluster (they all send the same bytes).
const messages = new WeakMap<ClusterEvent, WatchResponse>();

function watchMessage(event: ClusterEvent): WatchResponse {
  let message = messages.get(event);
  if (message) return message;
  switch (event.type) {
    case "snapshot":
      message = {
        $typeName: watchResponseType,
        affiliates: event.affiliates.map(wireAffiliate),
        deleted: false,
      };
      break;
    case "updated":
      message = {
        $typeName: watchResponseType,
        affiliates: [wireAffiliate(event.affiliate)],
        deleted: false,
      };
      break;
    case "deleted":
      message = {
        $typeName: watchResponseType,
        affiliates: [{ $typeName: affiliateType, id: event.id, data: new Uint8Array(), endpoints: [] }],
        deleted: true,
      };
      break;
  }
  messages.set(event, message);
  return message;
}

export function createClusterHandlers(options: ClusterHandlersOptions): ClusterHandlers {
  const { store } = options;
  const emptyUpdate = create(AffiliateUpdateResponseSchema);
  const emptyDelete = create(AffiliateDeleteResponseSchema);
  return {
    async hello(req, call) {
      checkClusterId(req.clusterId);
      return create(HelloResponseSchema, {
        clientIp: call.clientIp?.bytes ?? new Uint8Array(),
        ...(options.redirectEndpoint ? { redirect: { endpoint: options.redirectEndpoint } } : {}),
      });
    },
    async affiliateUpdate(req) {
      checkClusterId(req.clusterId);
      checkAffiliateId(req.affiliateId);
      checkAffiliateData(req.affiliateData);
      checkEndpoints(req.affiliateEndpoints);
      const ttlMs = checkTtl(req.ttl);
      await store.update(req.clusterId, req.affiliateId, {
        data: req.affiliateData,
        endpoints: req.affiliateEndpoints,
        ttlMs,
      });
      return emptyUpdate;
    },
    async affiliateDelete(req) {
      checkClusterId(req.clusterId);
      checkAffiliateId(req.affiliateId);
      await store.delete(req.clusterId, req.affiliateId);
      return emptyDelete;
    },
    async list(req) {
      checkClusterId(req.clusterId);
      const affiliates = await store.list(req.clusterId);
      return create(ListResponseSchema, { affiliates: affiliates.map(wireAffiliate) });
    },
    async *watch(req, call) {
      checkClusterId(req.clusterId);
      for await (const event of store.watch(req.clusterId, { signal: call.signal })) {
        yield watchMessage(event);
      }
    },
  };
}
