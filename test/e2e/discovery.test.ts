// The discovery service end to end: `plinth discovery serve` as a real process, called over
// plain gRPC by two independent stacks (@grpc/grpc-js, and connect's gRPC transport), and over
// the Connect protocol; every RPC, merge and watch semantics, expiry, every limit, rate limiting,
// isolation between clusters, a watcher that falls behind, the landing page and metrics.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type CallOptions, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import {
  Cluster,
  WatchRequestSchema,
  type WatchResponse,
  WatchResponseSchema,
} from "../../src/api/gen/sidero/discovery/server/cluster_pb.ts";
import {
  type DiscoveryProcess,
  startDiscoveryProcess,
} from "../../src/discovery/testing/discovery-process.ts";
import {
  createGrpcJsClusterClient,
  type GrpcJsClusterClient,
} from "../../src/discovery/testing/grpc-js-client.ts";
import { version } from "../../src/version.ts";

type ConnectCluster = ReturnType<typeof createClient<typeof Cluster>>;
type AnyClient = ConnectCluster | GrpcJsClusterClient;

const bytes = (...b: number[]) => new Uint8Array(b);
const ttl = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The gRPC status code of a failed call, from either stack (both use the gRPC numbers). */
async function codeOf(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ConnectError) return { code: err.code, message: err.rawMessage };
    const e = err as { code?: number; details?: string };
    return { code: e.code ?? -1, message: e.details ?? String(err) };
  }
  return { code: 0, message: "" };
}

/** An X-Real-IP of its own per test: the server trusts the header, so each test gets its own bucket. */
let ipCounter = 0;
function ownIp(): CallOptions {
  ipCounter++;
  return { headers: { "x-real-ip": `127.20.${ipCounter >> 8}.${ipCounter & 0xff}` } };
}

/** Reads a watch in the background: `next()` gives the messages in order. */
function reader(stream: AsyncIterable<WatchResponse>) {
  const iterator = stream[Symbol.asyncIterator]();
  return {
    async next(timeoutMs = 5000): Promise<WatchResponse> {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no watch message within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.ok(!r.done, "the watch ended");
      return r.value;
    },
    close: () => void iterator.return?.(),
  };
}

function summary(m: WatchResponse) {
  return {
    deleted: m.deleted,
    affiliates: m.affiliates.map((a) => ({ id: a.id, data: hex(a.data), endpoints: a.endpoints.map(hex) })),
  };
}

describe("discovery service (real process)", () => {
  let server: DiscoveryProcess;
  let clients: Record<"grpc-js" | "connect-grpc" | "connect", AnyClient>;
  let grpc: ConnectCluster;
  let grpcJs: GrpcJsClusterClient;

  before(async () => {
    server = await startDiscoveryProcess([
      "--trust-proxy-headers",
      "--gc-interval",
      "100ms",
      "--watch-buffer",
      "16",
    ]);
    grpc = createClient(Cluster, createGrpcTransport({ baseUrl: server.url }));
    grpcJs = createGrpcJsClusterClient(server.address);
    clients = {
      "grpc-js": grpcJs,
      "connect-grpc": grpc,
      connect: createClient(Cluster, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })),
    };
  });
  after(async () => {
    grpcJs?.close();
    assert.equal(await server?.kill("SIGTERM"), 0, "the server exits cleanly on SIGTERM");
  });

  for (const name of ["grpc-js", "connect-grpc", "connect"] as const) {
    it(`answers every RPC over ${name}`, async () => {
      const c = clients[name];
      const clusterId = randomUUID();
      const hello = await c.hello({ clusterId, clientVersion: "v1.9.0" });
      assert.deepEqual([...hello.clientIp], [127, 0, 0, 1], "the client IP as 4 bytes");
      assert.equal(hello.redirect, undefined);

      const watch = reader(c.watch({ clusterId }) as AsyncIterable<WatchResponse>);
      assert.deepEqual(
        summary(await watch.next()),
        { deleted: false, affiliates: [] },
        "an empty snapshot first",
      );
      await c.affiliateUpdate({
        clusterId,
        affiliateId: "node-1",
        affiliateData: bytes(1, 2, 3),
        affiliateEndpoints: [bytes(9, 9)],
        ttl: ttl(60_000),
      });
      assert.deepEqual(summary(await watch.next()), {
        deleted: false,
        affiliates: [{ id: "node-1", data: "010203", endpoints: ["0909"] }],
      });
      const list = await c.list({ clusterId });
      assert.deepEqual(
        list.affiliates.map((a) => [a.id, hex(a.data), a.endpoints.map(hex)]),
        [["node-1", "010203", ["0909"]]],
      );
      await c.affiliateDelete({ clusterId, affiliateId: "node-1" });
      assert.deepEqual(summary(await watch.next()), {
        deleted: true,
        affiliates: [{ id: "node-1", data: "", endpoints: [] }],
      });
      assert.equal((await c.list({ clusterId })).affiliates.length, 0);
      await c.affiliateDelete({ clusterId, affiliateId: "never-there" });
      watch.close();
    });
  }

  it("Hello reports the address from X-Real-IP or the first X-Forwarded-For when told to trust them", async () => {
    const real = await grpc.hello({ clusterId: "c" }, { headers: { "x-real-ip": "203.0.113.7" } });
    assert.deepEqual([...real.clientIp], [203, 0, 113, 7]);
    const forwarded = await grpc.hello(
      { clusterId: "c" },
      { headers: { "x-forwarded-for": "2001:db8::1, 198.51.100.1" } },
    );
    assert.equal(hex(forwarded.clientIp), "20010db8000000000000000000000001", "IPv6 as 16 bytes");
  });

  it("merges updates: data replaced only when sent, endpoints added to the stored ones", async () => {
    const clusterId = randomUUID();
    const call = ownIp();
    const update = (data: Uint8Array | undefined, endpoints: Uint8Array[]) =>
      grpc.affiliateUpdate(
        { clusterId, affiliateId: "a", affiliateData: data, affiliateEndpoints: endpoints, ttl: ttl(60_000) },
        call,
      );
    const stored = async () => {
      const [a] = (await grpc.list({ clusterId }, call)).affiliates;
      return { data: hex(a!.data), endpoints: a!.endpoints.map(hex) };
    };
    await update(undefined, [bytes(1)]);
    assert.deepEqual(await stored(), { data: "", endpoints: ["01"] }, "endpoints alone create the affiliate");
    await update(bytes(0xaa), [bytes(2)]);
    assert.deepEqual(await stored(), { data: "aa", endpoints: ["01", "02"] });
    await update(undefined, [bytes(2), bytes(3)]);
    assert.deepEqual(
      await stored(),
      { data: "aa", endpoints: ["01", "02", "03"] },
      "data kept, duplicate endpoint merged",
    );
    await update(new Uint8Array(), []);
    assert.deepEqual(
      await stored(),
      { data: "aa", endpoints: ["01", "02", "03"] },
      "empty data counts as absent",
    );
    await update(bytes(0xbb), []);
    assert.deepEqual(await stored(), { data: "bb", endpoints: ["01", "02", "03"] });
  });

  it("watch: snapshot of what exists, then each change in order; unchanged refreshes are not sent", async () => {
    const clusterId = randomUUID();
    const call = ownIp();
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "a", affiliateData: bytes(1), ttl: ttl(60_000) },
      call,
    );
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "b", affiliateData: bytes(2), ttl: ttl(60_000) },
      call,
    );
    const watch = reader(grpc.watch({ clusterId }, call));
    const snapshot = summary(await watch.next());
    assert.deepEqual(snapshot.affiliates.map((a) => `${a.id}=${a.data}`).sort(), ["a=01", "b=02"]);
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "a", affiliateData: bytes(1), ttl: ttl(60_000) },
      call,
    );
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "b", affiliateData: bytes(3), ttl: ttl(60_000) },
      call,
    );
    await grpc.affiliateDelete({ clusterId, affiliateId: "a" }, call);
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "c", affiliateEndpoints: [bytes(7)], ttl: ttl(60_000) },
      call,
    );
    const seen = [await watch.next(), await watch.next(), await watch.next()].map(summary);
    assert.deepEqual(seen, [
      { deleted: false, affiliates: [{ id: "b", data: "03", endpoints: [] }] },
      { deleted: true, affiliates: [{ id: "a", data: "", endpoints: [] }] },
      { deleted: false, affiliates: [{ id: "c", data: "", endpoints: ["07"] }] },
    ]);
    watch.close();
  });

  it("expiry: endpoints past their TTL drop out, then the whole affiliate, seen by watchers as a deletion", async () => {
    const clusterId = randomUUID();
    const call = ownIp();
    const watch = reader(grpc.watch({ clusterId }, call));
    await watch.next();
    const started = Date.now();
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "a", affiliateData: bytes(1), affiliateEndpoints: [bytes(1)], ttl: ttl(400) },
      call,
    );
    await grpc.affiliateUpdate(
      { clusterId, affiliateId: "a", affiliateEndpoints: [bytes(2)], ttl: ttl(1200) },
      call,
    );
    assert.deepEqual(summary(await watch.next()).affiliates[0]?.endpoints, ["01"]);
    assert.deepEqual(summary(await watch.next()).affiliates[0]?.endpoints, ["01", "02"]);
    const endpointGone = summary(await watch.next());
    assert.deepEqual(endpointGone, {
      deleted: false,
      affiliates: [{ id: "a", data: "01", endpoints: ["02"] }],
    });
    assert.ok(Date.now() - started >= 400, "not before the endpoint's TTL");
    const gone = summary(await watch.next());
    assert.deepEqual(gone, { deleted: true, affiliates: [{ id: "a", data: "", endpoints: [] }] });
    assert.ok(Date.now() - started >= 1200, "not before the endpoints' longest TTL");
    assert.equal((await grpc.list({ clusterId }, call)).affiliates.length, 0);
    watch.close();
  });

  it("keeps clusters apart: lists, watches and deletes see only their own cluster", async () => {
    const [one, two] = [randomUUID(), randomUUID()];
    const call = ownIp();
    const watchTwo = reader(grpc.watch({ clusterId: two }, call));
    await watchTwo.next();
    await grpc.affiliateUpdate(
      { clusterId: one, affiliateId: "same-id", affiliateData: bytes(1), ttl: ttl(60_000) },
      call,
    );
    await grpc.affiliateUpdate(
      { clusterId: two, affiliateId: "same-id", affiliateData: bytes(2), ttl: ttl(60_000) },
      call,
    );
    assert.deepEqual(summary(await watchTwo.next()).affiliates, [
      { id: "same-id", data: "02", endpoints: [] },
    ]);
    await grpc.affiliateDelete({ clusterId: one, affiliateId: "same-id" }, call);
    const [left] = (await grpc.list({ clusterId: two }, call)).affiliates;
    assert.equal(
      hex(left!.data),
      "02",
      "deleting in one cluster leaves the other's affiliate of the same id",
    );
    assert.equal((await grpc.list({ clusterId: one }, call)).affiliates.length, 0);
    watchTwo.close();
  });

  it("enforces every limit: INVALID_ARGUMENT for sizes and TTL, RESOURCE_EXHAUSTED for counts", async () => {
    const clusterId = randomUUID();
    const call = ownIp();
    const at = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
    const update = (fields: {
      clusterId?: string;
      affiliateId?: string;
      affiliateData?: Uint8Array;
      affiliateEndpoints?: Uint8Array[];
      ttl?: { seconds: bigint; nanos: number };
    }) => codeOf(grpc.affiliateUpdate({ clusterId, affiliateId: "a", ttl: ttl(60_000), ...fields }, call));
    const cases: [string, Promise<{ code: number; message: string }>, number, RegExp?][] = [
      ["cluster id of 256 bytes", update({ clusterId: "c".repeat(256) }), 0],
      [
        "cluster id of 257 bytes",
        update({ clusterId: "c".repeat(257) }),
        Code.InvalidArgument,
        /cluster_id is too long: 257 bytes, at most 256/,
      ],
      ["empty cluster id", update({ clusterId: "" }), Code.InvalidArgument, /cluster_id must not be empty/],
      ["affiliate id of 256 bytes", update({ affiliateId: "é".repeat(128) }), 0],
      [
        "affiliate id of 257 bytes",
        update({ affiliateId: `${"é".repeat(128)}x` }),
        Code.InvalidArgument,
        /affiliate_id is too long: 257 bytes/,
      ],
      [
        "empty affiliate id",
        update({ affiliateId: "" }),
        Code.InvalidArgument,
        /affiliate_id must not be empty/,
      ],
      ["data of 2048 bytes", update({ affiliateData: at(2048) }), 0],
      [
        "data of 2049 bytes",
        update({ affiliateData: at(2049) }),
        Code.InvalidArgument,
        /affiliate_data is too big: 2049 bytes, at most 2048/,
      ],
      ["endpoint of 32 bytes", update({ affiliateEndpoints: [at(32)] }), 0],
      [
        "endpoint of 33 bytes",
        update({ affiliateEndpoints: [at(32, 2), at(33)] }),
        Code.InvalidArgument,
        /affiliate_endpoints\[1\] is too big: 33 bytes, at most 32/,
      ],
      ["TTL of 30 minutes", update({ ttl: ttl(30 * 60_000) }), 0],
      [
        "TTL of 30 minutes and 1 s",
        update({ ttl: ttl(30 * 60_000 + 1000) }),
        Code.InvalidArgument,
        /ttl is too long: 1801s, at most 30m/,
      ],
      [
        "negative TTL",
        update({ ttl: { seconds: -1n, nanos: 0 } }),
        Code.InvalidArgument,
        /ttl must not be negative/,
      ],
      ["Hello without a cluster id", codeOf(grpc.hello({ clusterId: "" }, call)), Code.InvalidArgument],
      [
        "List with a long cluster id",
        codeOf(grpc.list({ clusterId: "c".repeat(257) }, call)),
        Code.InvalidArgument,
      ],
    ];
    for (const [what, outcome, code, message] of cases) {
      const got = await outcome;
      assert.equal(got.code, code, `${what}: ${got.message}`);
      if (message) assert.match(got.message, message, what);
    }

    // 64 endpoints per affiliate (one already stored above), then no more; nothing of the
    // refused request is kept.
    const endpoints = Array.from({ length: 63 }, (_, i) => new Uint8Array([0xe0, i]));
    assert.equal((await update({ affiliateEndpoints: endpoints })).code, 0);
    const full = await update({ affiliateEndpoints: [bytes(0xee), bytes(0xef)] });
    assert.equal(full.code, Code.ResourceExhausted, full.message);
    assert.match(full.message, /affiliate 'a' has 64 endpoints, the most allowed/);
    const [stored] = (await grpc.list({ clusterId }, call)).affiliates.filter((a) => a.id === "a");
    assert.equal(stored!.endpoints.length, 64);
    assert.equal(
      (await update({ affiliateEndpoints: [endpoints[5]!] })).code,
      0,
      "a known endpoint is only refreshed",
    );
  });

  it("allows 1024 affiliates per cluster and refuses the next with RESOURCE_EXHAUSTED", async () => {
    const clusterId = randomUUID();
    // Spread over 20 client addresses: one address's burst is 60.
    const ips = Array.from({ length: 20 }, () => ownIp());
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < 1024; i = next++) {
          await grpcJs.affiliateUpdate(
            { clusterId, affiliateId: `n${i}`, affiliateEndpoints: [bytes(i & 0xff)], ttl: ttl(60_000) },
            { headers: ips[i % 20]!.headers as Record<string, string> },
          );
        }
      }),
    );
    assert.equal((await grpc.list({ clusterId }, ips[0])).affiliates.length, 1024);
    const over = await codeOf(
      grpc.affiliateUpdate({ clusterId, affiliateId: "one-more", ttl: ttl(60_000) }, ips[1]),
    );
    assert.equal(over.code, Code.ResourceExhausted, over.message);
    assert.match(over.message, /has 1024 affiliates, the most allowed/);
    const existing = await codeOf(
      grpc.affiliateUpdate(
        { clusterId, affiliateId: "n7", affiliateData: bytes(1), ttl: ttl(60_000) },
        ips[2],
      ),
    );
    assert.equal(existing.code, 0, "a member of a full cluster still updates itself");
  });

  it("rate limits per client IP: a burst of 60, then requests wait for a token and fail only past their deadline", async () => {
    const call = ownIp();
    const other = ownIp();
    const clusterId = randomUUID();
    await Promise.all(Array.from({ length: 60 }, () => grpc.hello({ clusterId }, call)));
    // Tokens come back at 15/s, one every ~67 ms: of 20 more requests with a 300 ms deadline, the
    // first few wait for theirs, the rest are refused by the server at once (a refusal that came
    // only at the deadline would be the client's own DEADLINE_EXCEEDED instead).
    const tight = await Promise.all(
      Array.from({ length: 20 }, () => codeOf(grpc.hello({ clusterId }, { ...call, timeoutMs: 300 }))),
    );
    const refused = tight.filter((r) => r.code === Code.ResourceExhausted);
    assert.ok(refused.length >= 8, `most requests past the burst are refused: ${JSON.stringify(tight)}`);
    // A token due just before the deadline may reach the client just after it.
    const outcomes = new Set<number>([0, Code.ResourceExhausted, Code.DeadlineExceeded]);
    assert.ok(
      tight.every((r) => outcomes.has(r.code)),
      JSON.stringify(tight),
    );
    assert.ok(
      tight.some((r) => r.code === 0),
      "those whose token comes in time wait for it",
    );
    assert.match(refused[0]!.message, /rate limit exceeded .*past the request's deadline/);
    // The bucket is empty: three more requests wait for tokens, one every 1/15 s.
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 3 }, () => grpc.hello({ clusterId }, { ...call, timeoutMs: 5000 })),
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 120, `waited for tokens (15/s: 3 in ~130-200 ms), took ${waited.toFixed(0)} ms`);
    assert.ok(waited < 1000, `but not much longer, took ${waited.toFixed(0)} ms`);
    // This IP's bucket is empty again; another IP has a full burst of its own: 30 requests pass at
    // once. Sharing the empty bucket, they would need two seconds of tokens and most would be
    // refused within the deadline.
    const otherIp = await Promise.all(
      Array.from({ length: 30 }, () => codeOf(grpc.hello({ clusterId }, { ...other, timeoutMs: 1000 }))),
    );
    assert.deepEqual(
      otherIp.map((r) => r.code),
      Array.from({ length: 30 }, () => 0),
      "another IP has its own bucket",
    );
  });

  it("ends a watcher that stops reading with ABORTED; others carry on and a new watch gets a fresh snapshot", async () => {
    const clusterId = randomUUID();
    const call = ownIp();
    // A raw HTTP/2 watch that reads nothing: flow control stops the server's writes, its queue fills.
    const session = http2.connect(server.url);
    const slow = session.request({
      ":method": "POST",
      ":path": "/sidero.discovery.server.Cluster/Watch",
      "content-type": "application/grpc",
      te: "trailers",
      ...(call.headers as Record<string, string>),
    });
    const body = toBinary(WatchRequestSchema, {
      $typeName: "sidero.discovery.server.WatchRequest",
      clusterId,
    });
    const framed = Buffer.alloc(5 + body.length);
    framed.writeUInt32BE(body.length, 1);
    framed.set(body, 5);
    slow.end(framed);
    const fast = reader(grpc.watch({ clusterId }, call));
    await fast.next();
    const data = new Uint8Array(2048);
    for (let i = 0; i < 150; i++) {
      data[0] = i;
      await grpcJs.affiliateUpdate(
        { clusterId, affiliateId: "busy", affiliateData: data, ttl: ttl(60_000) },
        { headers: ownIp().headers as Record<string, string> },
      );
      const m = await fast.next();
      assert.equal(m.affiliates[0]?.data[0], i, "the reading watcher sees every change in order");
    }
    const ended = await new Promise<{
      status: string | undefined;
      message: string | undefined;
      messages: number;
    }>((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      slow.on("data", (c: Buffer) => {
        buffered = Buffer.concat([buffered, c]);
      });
      slow.on("trailers", (t) =>
        resolve({
          status: t["grpc-status"] as string,
          message: decodeURIComponent(String(t["grpc-message"])),
          messages: countFrames(buffered),
        }),
      );
      slow.on("error", reject);
    });
    session.close();
    assert.equal(ended.status, String(Code.Aborted));
    assert.match(
      ended.message ?? "",
      /fell 16 changes behind and was ended; watch again for a fresh snapshot/,
    );
    assert.ok(ended.messages < 150, `the slow watcher got ${ended.messages} messages before it was ended`);
    const again = reader(grpc.watch({ clusterId }, call));
    const snapshot = await again.next();
    assert.equal(snapshot.affiliates[0]?.data[0], 149, "the fresh snapshot holds the latest data");
    again.close();
    fast.close();
  });

  it("serves a landing page on GET / and Prometheus metrics", async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Plinth discovery service/);
    assert.ok(html.includes(`Version ${version}`), "names its version");
    assert.equal((await fetch(`${server.url}/nothing-here`)).status, 404);

    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    const value = (pattern: RegExp) => Number(metrics.match(pattern)?.[1] ?? Number.NaN);
    assert.ok(value(/^plinth_discovery_clusters (\d+)$/m) >= 1, "clusters");
    assert.ok(value(/^plinth_discovery_affiliates (\d+)$/m) >= 1024, "affiliates");
    assert.ok(value(/^plinth_discovery_endpoints (\d+)$/m) >= 1024, "endpoints");
    assert.ok(value(/^plinth_discovery_watchers (\d+)$/m) >= 0, "watchers");
    assert.ok(value(/^plinth_discovery_calls_total\{method="AffiliateUpdate",code="OK"\} (\d+)$/m) > 1000);
    assert.ok(value(/^plinth_discovery_calls_total\{method="Hello",code="ResourceExhausted"\} (\d+)$/m) >= 1);
    assert.ok(value(/^plinth_discovery_rejections_total\{reason="rate_limit"\} (\d+)$/m) >= 1);
    assert.ok(value(/^plinth_discovery_rejections_total\{reason="invalid_argument"\} (\d+)$/m) >= 8);
    assert.ok(value(/^plinth_discovery_rejections_total\{reason="limit"\} (\d+)$/m) >= 2);
    assert.ok(value(/^plinth_discovery_rejections_total\{reason="watch_overflow"\} (\d+)$/m) >= 1);
    assert.ok(value(/^plinth_discovery_gc_runs_total (\d+)$/m) >= 1);
    assert.ok(value(/^plinth_discovery_gc_removed_total\{what="affiliates"\} (\d+)$/m) >= 1);
    assert.match(metrics, /^plinth_discovery_call_duration_seconds_count\{method="List"\} \d+$/m);
  });
});

function countFrames(buffer: Buffer): number {
  let n = 0;
  for (let at = 0; at + 5 <= buffer.length; at += 5 + buffer.readUInt32BE(at + 1)) {
    fromBinary(WatchResponseSchema, buffer.subarray(at + 5, at + 5 + buffer.readUInt32BE(at + 1)));
    n++;
  }
  return n;
}
