// Two `plinth discovery serve --etcd-endpoints …` processes on one real etcd, as two servers
// behind one address would run: what one is told, the other serves, watches included.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Cluster, type WatchResponse } from "../../src/api/gen/sidero/discovery/server/cluster_pb.ts";
import {
  type DiscoveryProcess,
  startDiscoveryProcess,
} from "../../src/discovery/testing/discovery-process.ts";
import { type EtcdServer, startEtcd } from "../../src/testing/etcd-server.ts";

type Client = ReturnType<typeof createClient<typeof Cluster>>;
const ttl = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function reader(stream: AsyncIterable<WatchResponse>) {
  const iterator = stream[Symbol.asyncIterator]();
  return {
    async next(timeoutMs = 5000): Promise<string> {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no watch message within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.ok(!r.done, "the watch ended");
      const m = r.value;
      return `${m.deleted ? "deleted " : ""}${m.affiliates.map((a) => `${a.id}:${hex(a.data)}:${a.endpoints.map(hex).join(",")}`).join(" ")}`;
    },
    close: () => void iterator.return?.(),
  };
}

describe("discovery service, two servers on one etcd", () => {
  let etcd: EtcdServer;
  let a: DiscoveryProcess;
  let b: DiscoveryProcess;
  let clientA: Client;
  let clientB: Client;
  const connect = (p: DiscoveryProcess) => createClient(Cluster, createGrpcTransport({ baseUrl: p.url }));

  before(async () => {
    etcd = await startEtcd();
    const args = ["--etcd-endpoints", etcd.endpoint, "--gc-interval", "150ms", "--rate-limit", "0"];
    [a, b] = await Promise.all([startDiscoveryProcess(args), startDiscoveryProcess(args)]);
    clientA = connect(a);
    clientB = connect(b);
  });
  after(async () => {
    await Promise.all([a?.kill("SIGTERM"), b?.kill("SIGTERM")]);
    await etcd?.dispose();
  });

  it("serves from either server what the other was told, watches included, and reads its own writes", async () => {
    const clusterId = randomUUID();
    const watchB = reader(clientB.watch({ clusterId }));
    assert.equal(await watchB.next(), "", "an empty snapshot");
    await clientA.affiliateUpdate({
      clusterId,
      affiliateId: "n1",
      affiliateData: new Uint8Array([1]),
      affiliateEndpoints: [new Uint8Array([0xa])],
      ttl: ttl(60_000),
    });
    assert.equal(
      (await clientA.list({ clusterId })).affiliates.length,
      1,
      "the writer lists its own write at once",
    );
    assert.equal(await watchB.next(), "n1:01:0a");
    await clientB.affiliateUpdate({
      clusterId,
      affiliateId: "n1",
      affiliateEndpoints: [new Uint8Array([0xb])],
      ttl: ttl(60_000),
    });
    assert.equal(await watchB.next(), "n1:01:0a,0b", "endpoints merged across servers");
    const watchA = reader(clientA.watch({ clusterId }));
    assert.equal(await watchA.next(), "n1:01:0a,0b");
    await clientB.affiliateDelete({ clusterId, affiliateId: "n1" });
    assert.equal(await watchA.next(), "deleted n1::");
    assert.equal(await watchB.next(), "deleted n1::");
    assert.equal((await clientA.list({ clusterId })).affiliates.length, 0);
    watchA.close();
    watchB.close();
  });

  it("loses no update when both servers change one affiliate at the same time", async () => {
    const clusterId = randomUUID();
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? clientA : clientB).affiliateUpdate({
          clusterId,
          affiliateId: "shared",
          affiliateEndpoints: [new Uint8Array([i])],
          ttl: ttl(60_000),
        }),
      ),
    );
    for (const c of [clientA, clientB]) {
      const [stored] = (await c.list({ clusterId })).affiliates;
      assert.equal(stored?.endpoints.length, 24, "every endpoint of every concurrent update is kept");
    }
  });

  it("collects expired affiliates, and both servers' watchers see the deletion", async () => {
    const clusterId = randomUUID();
    const [watchA, watchB] = [reader(clientA.watch({ clusterId })), reader(clientB.watch({ clusterId }))];
    await watchA.next();
    await watchB.next();
    await clientA.affiliateUpdate({
      clusterId,
      affiliateId: "brief",
      affiliateData: new Uint8Array([7]),
      ttl: ttl(300),
    });
    assert.equal(await watchA.next(), "brief:07:");
    assert.equal(await watchB.next(), "brief:07:");
    assert.equal(await watchA.next(), "deleted brief::");
    assert.equal(await watchB.next(), "deleted brief::");
    watchA.close();
    watchB.close();
  });

  it("keeps serving when one server dies, and a restarted server has the whole state", async () => {
    const clusterId = randomUUID();
    await clientA.affiliateUpdate({
      clusterId,
      affiliateId: "n1",
      affiliateData: new Uint8Array([1]),
      ttl: ttl(60_000),
    });
    assert.equal(await a.kill("SIGKILL"), null);
    await clientB.affiliateUpdate({
      clusterId,
      affiliateId: "n2",
      affiliateData: new Uint8Array([2]),
      ttl: ttl(60_000),
    });
    await a.restart();
    clientA = connect(a);
    const ids = (await clientA.list({ clusterId })).affiliates.map((x) => x.id).sort();
    assert.deepEqual(ids, ["n1", "n2"]);
  });
});
