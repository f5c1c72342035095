import { create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { GuardedHttp2SessionManager } from "../../../api/client/http2-session-manager.ts";
import {
  type Affiliate,
  AffiliateSchema,
  type Endpoint,
  type EndpointSchema,
} from "../../../api/gen/sidero/discovery/client/affiliate_pb.ts";
import { Cluster, type WatchResponse } from "../../../api/gen/sidero/discovery/server/cluster_pb.ts";
import { formatIp } from "../../../config/net/ip.ts";
import { createDiscoveryCipher } from "../../../discovery/client/discovery-cipher.ts";

export interface DiscoveryClientOptions {
  /** `http://host:port` (h2c) or `https://host:port`. */
  readonly endpoint: string;
  readonly clusterId: string;
  /** This machine's id at the service. */
  readonly affiliateId: string;
  /** The cluster secret's 32 bytes. */
  readonly key: Uint8Array;
  /** Lifetime of what is published; refreshed at half of it. */
  readonly ttlMs: number;
  readonly clientVersion: string;
  /** Called whenever what the client knows changes (discovered records, connection state). */
  readonly onChange: () => void;
  readonly log: Logger;
  /** Reconnect backoff: first pause and longest pause; default 250 ms and 15 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface DiscoveredAffiliate {
  readonly id: string;
  readonly affiliate: Affiliate;
  readonly endpoints: readonly Endpoint[];
}

export interface DiscoveryClientStatus {
  readonly endpoint: string;
  /** A watch is open and has delivered its snapshot. */
  readonly connected: boolean;
  /** The last refresh of this machine's own record succeeded. */
  readonly published: boolean;
  readonly publicIp?: string;
  /** Records that did not open with the key, since the client started. */
  readonly undecryptable: number;
  readonly lastError?: string;
}

/**
 * The agent's side of the discovery protocol, as the public client behaves: Hello (following a
 * redirect), a watch of the cluster (snapshot, then changes), this machine's record published with
 * a TTL and refreshed at half of it and at once when it changes; on any failure, reconnect with
 * backoff, keeping what it knew meanwhile.
 */
export interface DiscoveryClient {
  /** This machine's record and mesh endpoints; published now when they changed. */
  setLocal(
    affiliate: MessageInitShape<typeof AffiliateSchema>,
    endpoints: readonly MessageInitShape<typeof EndpointSchema>[],
  ): void;
  /** The other members, decrypted. */
  discovered(): DiscoveredAffiliate[];
  status(): DiscoveryClientStatus;
  /** Stops; with `deleteSelf`, first removes this machine's record from the service (best effort). */
  close(options?: { readonly deleteSelf?: boolean }): Promise<void>;
}

const callTimeoutMs = 10_000;

function ipText(bytes: Uint8Array): string | undefined {
  return bytes.length === 4 || bytes.length === 16
    ? formatIp({ family: bytes.length === 4 ? 4 : 6, bytes })
    : undefined;
}

export function createDiscoveryClient(options: DiscoveryClientOptions): DiscoveryClient {
  const cipher = createDiscoveryCipher(options.key);
  const { initialMs, maxMs } = options.backoff ?? { initialMs: 250, maxMs: 15_000 };
  const stop = new AbortController();
  const known = new Map<string, DiscoveredAffiliate>();
  let endpoint = options.endpoint;
  let connected = false;
  let published = false;
  let publicIp: string | undefined;
  let undecryptable = 0;
  let lastError: string | undefined;
  let local: { affiliate: Affiliate; data: Uint8Array; endpoints: Uint8Array[] } | undefined;
  let localEndpoints: readonly MessageInitShape<typeof EndpointSchema>[] = [];
  let localChanged: () => void = () => {};
  /** The local record changed since it was last sent. */
  let dirty = false;

  function changed(): void {
    try {
      options.onChange();
    } catch (err) {
      options.log.warn({ err }, "discovery change callback failed");
    }
  }

  function apply(message: WatchResponse, snapshot: boolean): void {
    if (snapshot) known.clear();
    for (const record of message.affiliates) {
      if (record.id === options.affiliateId) continue;
      if (message.deleted) {
        known.delete(record.id);
        continue;
      }
      if (record.data.length === 0) continue; // endpoints reported by others, no record yet
      let affiliate: Affiliate;
      try {
        affiliate = cipher.openAffiliate(record.data);
      } catch {
        undecryptable++;
        continue;
      }
      const endpoints: Endpoint[] = [];
      for (const sealed of record.endpoints) {
        try {
          endpoints.push(cipher.openEndpoint(sealed));
        } catch {
          // an endpoint another node reported for this one, sealed with another key
        }
      }
      known.set(record.id, { id: record.id, affiliate, endpoints });
    }
  }

  /** The next thing to do: refresh after half the TTL, or at once when the local record changes. */
  function nextRefresh(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (dirty) {
        resolve();
        return;
      }
      const timer = setTimeout(done, options.ttlMs / 2);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        localChanged = () => {};
        resolve();
      }
      localChanged = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async function session(signal: AbortSignal): Promise<void> {
    const sessionManager = new GuardedHttp2SessionManager(endpoint);
    try {
      const client = createClient(Cluster, createGrpcTransport({ baseUrl: endpoint, sessionManager }));
      const hello = await client.hello(
        { clusterId: options.clusterId, clientVersion: options.clientVersion },
        { signal, timeoutMs: callTimeoutMs },
      );
      if (hello.redirect?.endpoint) {
        const target = hello.redirect.endpoint;
        endpoint = /^https?:\/\//.test(target) ? target : `${new URL(endpoint).protocol}//${target}`;
        options.log.info({ endpoint }, "the discovery service redirected this client");
        return;
      }
      publicIp = ipText(hello.clientIp);
      options.log.debug({ endpoint, publicIp }, "discovery service said hello");
      const watching = (async () => {
        let first = true;
        for await (const message of client.watch({ clusterId: options.clusterId }, { signal })) {
          apply(message, first);
          if (first) options.log.debug({ members: known.size }, "discovery watch snapshot received");
          first = false;
          connected = true;
          lastError = undefined;
          changed();
        }
        throw new Error("the discovery service ended the watch");
      })();
      const refreshing = (async () => {
        for (;;) {
          if (local) {
            dirty = false;
            await client.affiliateUpdate(
              {
                clusterId: options.clusterId,
                affiliateId: options.affiliateId,
                affiliateData: local.data,
                affiliateEndpoints: local.endpoints,
                ttl: {
                  seconds: BigInt(Math.floor(options.ttlMs / 1000)),
                  nanos: (options.ttlMs % 1000) * 1e6,
                },
              },
              { signal, timeoutMs: callTimeoutMs },
            );
            if (!published) {
              options.log.debug("this machine's record published to the discovery service");
              published = true;
              changed();
            }
          }
          await nextRefresh(signal);
          signal.throwIfAborted();
        }
      })();
      await Promise.race([watching, refreshing]);
    } finally {
      sessionManager.abort();
    }
  }

  const running = (async () => {
    let pause = initialMs;
    while (!stop.signal.aborted) {
      const attempt = new AbortController();
      const onStop = () => attempt.abort();
      stop.signal.addEventListener("abort", onStop, { once: true });
      const startedAt = Date.now();
      try {
        await session(attempt.signal);
        pause = initialMs; // a redirect: go on at once
        continue;
      } catch (err) {
        if (stop.signal.aborted) break;
        lastError = (err as Error).message;
        options.log.warn(
          { err: lastError, endpoint },
          "discovery service unreachable; keeping the last known members",
        );
      } finally {
        attempt.abort();
        stop.signal.removeEventListener("abort", onStop);
      }
      if (connected || published) {
        connected = false;
        published = false;
      }
      changed();
      // A session that lasted a while was healthy: start the backoff over.
      if (Date.now() - startedAt > maxMs) pause = initialMs;
      const jittered = pause * (0.8 + Math.random() * 0.4);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, jittered);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        stop.signal.addEventListener("abort", done, { once: true });
      });
      pause = Math.min(pause * 2, maxMs);
    }
  })();

  return {
    setLocal(affiliate, endpoints) {
      const message = create(AffiliateSchema, affiliate);
      if (
        local &&
        equals(AffiliateSchema, local.affiliate, message) &&
        JSON.stringify(endpoints, (_, v) => (v instanceof Uint8Array ? [...v] : v)) ===
          JSON.stringify(localEndpoints, (_, v) => (v instanceof Uint8Array ? [...v] : v))
      ) {
        return;
      }
      local = {
        affiliate: message,
        data: cipher.sealAffiliate(message),
        endpoints: endpoints.map((e) => cipher.sealEndpoint(e)),
      };
      localEndpoints = endpoints;
      options.log.debug(
        { endpoints: endpoints.length, mesh: message.kubespan !== undefined },
        "this machine's record changed: publishing it",
      );
      dirty = true;
      localChanged();
    },
    discovered: () => [...known.values()],
    status: () => ({
      endpoint,
      connected,
      published,
      undecryptable,
      ...(publicIp ? { publicIp } : {}),
      ...(lastError ? { lastError } : {}),
    }),
    async close(closeOptions = {}) {
      stop.abort();
      await running;
      if (!closeOptions.deleteSelf) return;
      const sessionManager = new GuardedHttp2SessionManager(endpoint);
      try {
        const client = createClient(Cluster, createGrpcTransport({ baseUrl: endpoint, sessionManager }));
        await client.affiliateDelete(
          { clusterId: options.clusterId, affiliateId: options.affiliateId },
          { timeoutMs: 5000 },
        );
      } catch (err) {
        options.log.warn(
          { err: (err as Error).message },
          "could not remove this machine from the discovery service",
        );
      } finally {
        sessionManager.abort();
      }
    },
  };
}
