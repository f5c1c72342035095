import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { createDiscoveryServer, type DiscoveryServer } from "../../../discovery/server/discovery-server.ts";
import { eventually } from "../../../testing/eventually.ts";
import { createDiscoveryClient, type DiscoveryClient } from "./discovery-client.ts";

const key = new Uint8Array(32).fill(1);

describe("discovery client", () => {
  let server: DiscoveryServer;
  let redirecting: DiscoveryServer;
  before(async () => {
    server = await createDiscoveryServer({
      listen: { host: "127.0.0.1", port: 0 },
      rateLimit: null,
      gcIntervalMs: 50,
      version: "test",
    });
    redirecting = await createDiscoveryServer({
      listen: { host: "127.0.0.1", port: 0 },
      redirectEndpoint: `127.0.0.1:${server.port}`,
      version: "test",
    });
  });
  after(async () => {
    await server.close();
    await redirecting.close();
  });

  function client(clusterId: string, endpoint: string, ttlMs: number): DiscoveryClient {
    return createDiscoveryClient({
      endpoint,
      clusterId,
      affiliateId: "self",
      key,
      ttlMs,
      clientVersion: "test",
      onChange: () => {},
      log: pino({ level: "silent" }),
      backoff: { initialMs: 20, maxMs: 100 },
    });
  }

  it("follows Hello's redirect, refreshes its record before the TTL runs out, and republishes at once on change", async () => {
    const clusterId = "refresh-cluster-0000";
    const c = client(clusterId, redirecting.url, 400);
    try {
      c.setLocal({ nodeId: "self", hostname: "first" }, []);
      await eventually("the record at the redirect's target", async () =>
        (await server.store.list(clusterId)).length === 1 ? true : undefined,
      );
      assert.equal((await redirecting.store.list(clusterId)).length, 0, "nothing at the redirecting server");
      assert.equal(c.status().endpoint, server.url);
      // Three TTLs later, with collections every 50 ms, the record is still there: it was refreshed.
      await new Promise((r) => setTimeout(r, 1200));
      const [kept] = await server.store.list(clusterId);
      assert.ok(kept && kept.expiresAt > Date.now(), "refreshed, not expired");
      const before = kept.data;
      c.setLocal({ nodeId: "self", hostname: "second" }, [
        { ip: new Uint8Array([127, 0, 0, 9]), port: 51820 },
      ]);
      const changed = await eventually("the new record", async () => {
        const [now] = await server.store.list(clusterId);
        return now && now.endpoints.length === 1 ? now : undefined;
      });
      assert.notDeepEqual(changed.data, before);
      assert.equal(c.status().published, true);
    } finally {
      await c.close();
    }
    await eventually("the record expiring once nobody refreshes it", async () =>
      (await server.store.list(clusterId)).length === 0 ? true : undefined,
    );
  });

  it("removes its record when closed with deleteSelf", async () => {
    const clusterId = "delete-cluster-0000";
    const c = client(clusterId, server.url, 60_000);
    c.setLocal({ nodeId: "self" }, []);
    await eventually("published", () => (c.status().published ? true : undefined));
    await c.close({ deleteSelf: true });
    assert.equal((await server.store.list(clusterId)).length, 0);
  });
});
