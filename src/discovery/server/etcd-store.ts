import { createHash } from "node:crypto";
import type { Logger } from "pino";
import pino from "pino";
import { z } from "zod";
import { hasCode, isConflict, isNotFound, PlinthError } from "../../errors/plinth-error.ts";
import { defineResource } from "../../runtime/resource/definition.ts";
import type { AnyResource, Resource } from "../../runtime/resource/resource.ts";
import { createEtcdState } from "../../runtime/state/backends/etcd/index.ts";
import type { CoreState } from "../../runtime/state/core-state.ts";
import {
  type AffiliateUpdate,
  mergeUpdate,
  type StoredAffiliate,
  sameBytes,
  withoutExpired,
} from "./affiliate-record.ts";
import { createClusterTable } from "./cluster-table.ts";
import type { DiscoveryStore, GarbageCollection } from "./discovery-store.ts";
import { discoveryLimits } from "./limits.ts";
import { tooManyAffiliates } from "./memory-store.ts";

// The shared store for several discovery servers behind one address: every affiliate is a
// resource in etcd (through the runtime's etcd state backend), and each server keeps a mirror
// of all of them, fed by one watch, that answers List and Watch. Writes go to etcd as
// conditional transactions (merge, then write only if nobody changed it meanwhile), so two
// servers never lose each other's updates; a write returns once the local mirror has seen it,
// so a client reads its own writes from the same server.

const affiliateSpec = z.object({
  cluster: z.string(),
  affiliate: z.string(),
  /** base64 */
  data: z.string(),
  expiresAt: z.number(),
  endpoints: z.array(z.object({ data: z.string(), expiresAt: z.number() })),
});

type AffiliateSpec = z.infer<typeof affiliateSpec>;

/** One affiliate of one cluster, as the shared store keeps it in etcd. */
export const DiscoveryAffiliate = defineResource<AffiliateSpec>({
  type: "DiscoveryAffiliate",
  namespace: "discovery",
  schema: affiliateSpec,
});

export interface EtcdDiscoveryStoreOptions {
  readonly endpoints: readonly string[];
  /** Servers with the same prefix share their state; default `plinth-discovery`. */
  readonly prefix?: string;
  readonly watchBuffer?: number;
  /** Epoch milliseconds; default Date.now. */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** How long start waits for etcd; default 20 s. */
  readonly startTimeoutMs?: number;
}

/** The writer every server uses, so that any of them may update or remove any affiliate. */
const owner = "plinth-discovery";
/** Races lost to another writer before an update gives up. */
const maxAttempts = 32;
/** Longest wait for the mirror to show a write before the call returns anyway. */
const seenTimeoutMs = 5000;

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

function resourceId(clusterId: string, affiliateId: string): string {
  // Ids may be 256 bytes each and hold any character; resource ids are shorter and plainer.
  return createHash("sha256").update(clusterId).update("\0").update(affiliateId).digest("hex");
}

function toSpec(clusterId: string, a: StoredAffiliate): AffiliateSpec {
  return {
    cluster: clusterId,
    affiliate: a.id,
    data: b64(a.data),
    expiresAt: a.expiresAt,
    endpoints: a.endpoints.map((e) => ({ data: b64(e.data), expiresAt: e.expiresAt })),
  };
}

function fromSpec(spec: AffiliateSpec): StoredAffiliate {
  return {
    id: spec.affiliate,
    data: bytes(spec.data),
    expiresAt: spec.expiresAt,
    endpoints: spec.endpoints.map((e) => ({ data: bytes(e.data), expiresAt: e.expiresAt })),
  };
}

/** Whether a watcher would see a difference (expiry extensions are not one). */
function sameContent(a: StoredAffiliate, b: StoredAffiliate): boolean {
  return (
    sameBytes(a.data, b.data) &&
    a.endpoints.length === b.endpoints.length &&
    a.endpoints.every((e, i) => sameBytes(e.data, b.endpoints[i]!.data))
  );
}

interface Mirrored {
  readonly clusterId: string;
  readonly resource: Resource<AffiliateSpec>;
}

export async function createEtcdDiscoveryStore(options: EtcdDiscoveryStoreOptions): Promise<DiscoveryStore> {
  const now = options.now ?? Date.now;
  const log = options.logger ?? pino({ level: "silent" });
  const state: CoreState = createEtcdState({
    endpoints: options.endpoints,
    prefix: options.prefix ?? "plinth-discovery",
  });
  const kind = DiscoveryAffiliate.kind();
  const table = createClusterTable({ watchBuffer: options.watchBuffer });
  /** By resource id: what the mirror last saw in etcd. */
  const mirrored = new Map<string, Mirrored>();
  const seenWaiters = new Set<() => void>();
  const stop = new AbortController();

  function apply(resource: AnyResource | undefined, id: string): void {
    const before = mirrored.get(id);
    const parsed = resource ? affiliateSpec.safeParse(resource.spec) : undefined;
    if (resource && !parsed?.success) {
      log.warn({ id }, "ignoring a malformed discovery affiliate in etcd");
      return;
    }
    if (!resource || !parsed?.success || resource.metadata.phase === "tearingDown") {
      if (before) {
        mirrored.delete(id);
        table.remove(before.clusterId, before.resource.spec.affiliate);
      }
    } else {
      const spec = parsed.data;
      const affiliate = fromSpec(spec);
      const previous = table.get(spec.cluster, spec.affiliate);
      mirrored.set(id, { clusterId: spec.cluster, resource: resource as Resource<AffiliateSpec> });
      table.put(spec.cluster, affiliate, !previous || !sameContent(previous, affiliate));
    }
    for (const wake of seenWaiters) wake();
  }

  /** Resolves once the mirror satisfies `seen` (or after a while: the write itself did succeed). */
  async function untilSeen(seen: () => boolean): Promise<void> {
    if (seen()) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        seenWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (seen() || stop.signal.aborted) done();
      };
      const timer = setTimeout(done, seenTimeoutMs);
      seenWaiters.add(check);
    });
  }

  const newer = (id: string, written: Resource<AffiliateSpec>) => () => {
    const m = mirrored.get(id)?.resource.metadata;
    if (!m) return false;
    return m.created !== written.metadata.created || m.version >= written.metadata.version;
  };

  // The mirror: one watch of every affiliate; after a lost history, a fresh listing replaces it.
  let bootstrapped: () => void = () => {};
  let failedStart: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    bootstrapped = resolve;
    failedStart = reject;
  });
  const watching = (async () => {
    for (let delay = 100; !stop.signal.aborted; delay = Math.min(delay * 2, 2000)) {
      const fresh = new Map<string, AnyResource>();
      let live = false;
      try {
        for await (const event of state.watchKind(kind, { bootstrapContents: true, signal: stop.signal })) {
          if (event.type === "bootstrapped") {
            for (const id of [...mirrored.keys()]) if (!fresh.has(id)) apply(undefined, id);
            for (const [id, r] of fresh) apply(r, id);
            live = true;
            delay = 100;
            bootstrapped();
          } else if (!live) {
            if (event.type === "destroyed") fresh.delete(event.resource.metadata.id);
            else fresh.set(event.resource.metadata.id, event.resource);
          } else {
            apply(event.type === "destroyed" ? undefined : event.resource, event.resource.metadata.id);
          }
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        log.warn({ err }, "the etcd watch of discovery affiliates ended; watching again");
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  })();
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const startTimer = setTimeout(
    () =>
      failedStart(
        new PlinthError(
          "unavailable",
          `etcd at ${options.endpoints.join(", ")} did not answer within ${startTimeoutMs} ms`,
        ),
      ),
    startTimeoutMs,
  );
  try {
    await ready;
  } catch (err) {
    stop.abort();
    await state.close();
    throw err;
  } finally {
    clearTimeout(startTimer);
  }

  async function read(id: string): Promise<Resource<AffiliateSpec> | undefined> {
    try {
      return await state.get(DiscoveryAffiliate.ptr(id));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function destroyTornDown(id: string): Promise<void> {
    try {
      await state.destroy(DiscoveryAffiliate.ptr(id), { owner });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err) && !hasCode(err, "phase_conflict")) throw err;
    }
  }

  return {
    async update(clusterId, affiliateId, update: AffiliateUpdate) {
      const id = resourceId(clusterId, affiliateId);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const current = await read(id);
        if (current?.metadata.phase === "tearingDown") {
          // Another server is collecting it as expired: finish that, then create it anew.
          await destroyTornDown(id);
          continue;
        }
        if (!current && table.size(clusterId) >= discoveryLimits.affiliatesPerCluster) {
          throw tooManyAffiliates(clusterId, table.size(clusterId));
        }
        const { affiliate } = mergeUpdate(current && fromSpec(current.spec), affiliateId, update, now());
        const spec = toSpec(clusterId, affiliate);
        try {
          const written = current
            ? await state.update({ metadata: current.metadata, spec }, { owner })
            : await state.create(DiscoveryAffiliate.make(id, spec), { owner });
          await untilSeen(newer(id, written));
          return;
        } catch (err) {
          if (
            isConflict(err) ||
            hasCode(err, "already_exists") ||
            isNotFound(err) ||
            hasCode(err, "phase_conflict")
          )
            continue;
          throw err;
        }
      }
      throw new PlinthError(
        "unavailable",
        `affiliate '${affiliateId}' is changing too often to update; try again`,
      );
    },
    async delete(clusterId, affiliateId) {
      const id = resourceId(clusterId, affiliateId);
      const current = await read(id);
      if (!current) return;
      try {
        if (current.metadata.phase === "running") {
          await state.update(
            { metadata: { ...current.metadata, phase: "tearingDown" }, spec: current.spec },
            { owner, expectedPhase: "running" },
          );
        }
      } catch (err) {
        if (!isConflict(err) && !isNotFound(err) && !hasCode(err, "phase_conflict")) throw err;
      }
      await destroyTornDown(id);
      await untilSeen(() => !mirrored.has(id));
    },
    async list(clusterId) {
      return table.list(clusterId);
    },
    watch: (clusterId, watchOptions) => table.watch(clusterId, watchOptions),
    async collectGarbage(): Promise<GarbageCollection> {
      const at = now();
      let removedAffiliates = 0;
      let removedEndpoints = 0;
      for (const [id, { resource }] of [...mirrored]) {
        const stored = fromSpec(resource.spec);
        const alive = withoutExpired(stored, at);
        if (alive === stored) continue;
        // Conditional on the version this server saw: a refresh that came meanwhile wins.
        try {
          if (alive) {
            await state.update(
              { metadata: resource.metadata, spec: toSpec(resource.spec.cluster, alive) },
              { owner },
            );
            removedEndpoints += stored.endpoints.length - alive.endpoints.length;
          } else {
            await state.update(
              { metadata: { ...resource.metadata, phase: "tearingDown" }, spec: resource.spec },
              { owner },
            );
            await destroyTornDown(id);
            removedAffiliates++;
          }
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err) && !hasCode(err, "phase_conflict")) throw err;
        }
      }
      table.compact();
      return { removedAffiliates, removedEndpoints };
    },
    stats: () => table.stats(),
    async close() {
      stop.abort();
      for (const wake of seenWaiters) wake();
      table.endWatches(new PlinthError("unavailable", "the discovery service is shutting down"));
      await state.close();
      await watching;
    },
  };
}
