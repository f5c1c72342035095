import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { TestSpec } from "../runtime/state/conformance/test-resources.ts";
import { createStoreEngine } from "../runtime/state/internal/store-engine.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import type { ApiTransportOptions } from "./client/api-transport.ts";
import { fromConnectError } from "./error-mapping.ts";
import { MachineService } from "./gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService, WatchEventType } from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceToWire } from "./resource-wire.ts";
import { createApiServer } from "./server.ts";
import { callOutcome } from "./testing/call-outcome.ts";
import type { TestApi } from "./testing/test-api.ts";
import { createTestRegistry, startTestApi } from "./testing/test-api.ts";
import type { TestPki } from "./testing/test-pki.ts";
import { createTestPki } from "./testing/test-pki.ts";

/** A raw HTTP/2 request with the admin certificate, bypassing the client library. */
async function rawPost(
  url: string,
  pki: TestPki,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ status: number; trailers: http2.IncomingHttpHeaders; body: string }> {
  const admin = pki.clients["os:admin"];
  const session = http2.connect(url, { ca: pki.ca, cert: admin.cert, key: admin.key });
  try {
    return await new Promise((resolve, reject) => {
      session.on("error", reject);
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let response: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => {
        response = h;
      });
      req.on("trailers", (t) => {
        trailers = t;
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () =>
        resolve({
          status: Number(response[":status"]),
          trailers: { ...response, ...trailers },
          body: Buffer.concat(chunks).toString(),
        }),
      );
      req.on("error", reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

describe("API server", () => {
  let pki: TestPki;
  let api: TestApi;
  const engine = createStoreEngine();
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({
      pki,
      state: withValidation(engine, createTestRegistry()),
      maxMessageBytes: 64 * 1024,
    });
  });
  after(() => api.close());

  const protocols: [string, Partial<ApiTransportOptions>][] = [
    ["gRPC over HTTP/2", { protocol: "grpc" }],
    ["gRPC-Web over HTTP/2", { protocol: "grpc-web" }],
    ["Connect over HTTP/2", { protocol: "connect" }],
    ["gRPC-Web over HTTP/1.1", { protocol: "grpc-web", httpVersion: "1.1" }],
    ["Connect over HTTP/1.1", { protocol: "connect", httpVersion: "1.1" }],
  ];
  for (const [name, options] of protocols) {
    it(`serves ${name} with the caller's role`, async () => {
      const reader = createClient(MachineService, api.connect(pki.clients["os:reader"], options).transport);
      assert.equal((await reader.version({})).messages[0]?.version?.tag, "fake-node");
      assert.match(await callOutcome(reader.reboot({})), /^permission_denied: role os:reader/);
      const anonymous = createClient(MachineService, api.connect(undefined, options).transport);
      assert.match(await callOutcome(anonymous.version({})), /^unauthenticated: /);
    });
  }

  it("streams over gRPC-Web and Connect too", async () => {
    for (const protocol of ["grpc-web", "connect"] as const) {
      const client = createClient(
        MachineService,
        api.connect(pki.clients["os:reader"], { protocol }).transport,
      );
      const lines: string[] = [];
      for await (const m of client.logs({ id: "x", tailLines: 3 }))
        lines.push(new TextDecoder().decode(m.data));
      assert.equal(lines.length, 3, protocol);
    }
  });

  it("refuses an oversized message, naming the limit, and changes nothing", async () => {
    const client = createClient(ResourceService, api.connect(pki.clients["os:admin"]).transport);
    const big = TestSpec.make("big", { value: "x".repeat(100 * 1024), count: 0 });
    assert.match(
      await callOutcome(client.create({ resource: resourceToWire(big) })),
      /^resource_exhausted: .*larger than configured readMaxBytes 65536/,
    );
    assert.equal((await engine.list(TestSpec.kind())).length, 0);
  });

  // Undecodable requests fail before any interceptor runs: connect answers them INTERNAL, as
  // gRPC servers do, with the decoder's message.
  it("answers malformed protobuf with a decode error and changes nothing", async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const res = await rawPost(
      api.server.url,
      pki,
      "/plinth.resource.v1alpha1.ResourceService/Create",
      { "content-type": "application/proto", "connect-protocol-version": "1" },
      garbage,
    );
    assert.equal(res.status, 500, res.body);
    assert.match(JSON.parse(res.body).message, /^parse binary: illegal tag/);
    const grpc = await rawPost(
      api.server.url,
      pki,
      "/plinth.resource.v1alpha1.ResourceService/Create",
      { "content-type": "application/grpc", te: "trailers" },
      new Uint8Array([0, 0, 0, 0, garbage.length, ...garbage]),
    );
    assert.equal(grpc.status, 200);
    assert.equal(grpc.trailers["grpc-status"], "13");
    assert.match(decodeURIComponent(String(grpc.trailers["grpc-message"])), /^parse binary: illegal tag/);
    assert.equal((await engine.list(TestSpec.kind())).length, 0);
  });

  it("answers invalid input with a message naming the field, and changes nothing", async () => {
    const client = createClient(ResourceService, api.connect(pki.clients["os:admin"]).transport);
    const bad = resourceToWire(TestSpec.make("a", { value: "v", count: 0 }));
    bad.spec = new TextEncoder().encode("{not json");
    assert.match(
      await callOutcome(client.create({ resource: bad })),
      /^invalid_argument: the spec of test\/TestSpec\/a is not valid JSON/,
    );
    const wrong = resourceToWire(TestSpec.make("a", { value: 5 as unknown as string, count: 0 }));
    assert.match(await callOutcome(client.create({ resource: wrong })), /^invalid_argument: .*spec\.value/);
    assert.match(await callOutcome(client.create({})), /^invalid_argument: the resource has no metadata/);
    assert.match(
      await callOutcome(client.get({ type: "", id: "a" })),
      /^invalid_argument: Get: 'type' must not be empty/,
    );
    assert.match(
      await callOutcome(client.get({ type: "Nope", id: "a" })),
      /^not_found: unknown resource type 'Nope'/,
    );
    assert.equal((await engine.list(TestSpec.kind())).length, 0);
  });

  it("resolves types by alias and defaults the namespace", async () => {
    await engine.create(TestSpec.make("x", { value: "v", count: 0 }));
    const client = createClient(ResourceService, api.connect(pki.clients["os:reader"]).transport);
    const res = await client.get({ type: "TS", id: "x" });
    const r = res.messages[0]?.resource;
    assert.equal(r?.metadata?.namespace, "test");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r?.spec)), { value: "v", count: 0 });
  });
});

describe("API server lifecycle", () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });

  it("close ends open streams and stops listening", async () => {
    const engine = createStoreEngine();
    const api = await startTestApi({ pki, state: engine });
    const client = createClient(ResourceService, api.connect(pki.clients["os:reader"]).transport);
    const stream = client.watch({ type: "TestSpec" })[Symbol.asyncIterator]();
    assert.equal((await stream.next()).value?.eventType, WatchEventType.ESTABLISHED);
    assert.equal(engine.hub.watcherCount, 1);
    const closed = api.close();
    const end = await callOutcome(stream.next());
    await closed;
    assert.notEqual(end, "ok");
    assert.equal(engine.hub.watcherCount, 0);
    const again = createClient(MachineService, api.connect(pki.clients["os:reader"]).transport);
    assert.match(await callOutcome(again.version({})), /^unavailable: /);
  });

  it("a port in use is unavailable, naming the address", async () => {
    const api = await startTestApi({ pki });
    try {
      await assert.rejects(
        startTestApi({ pki, port: api.server.port }),
        (err) =>
          fromConnectError(err).code === "unavailable" &&
          /127\.0\.0\.1:\d+: the address is in use/.test(String(err)),
      );
    } finally {
      await api.close();
    }
  });

  it("rejects bad options naming them", async () => {
    const base = {
      routes: () => {},
      tls: { cert: pki.node.cert, key: pki.node.key, ca: pki.ca, requestClientCert: true },
      listen: { host: "127.0.0.1", port: 0 },
    };
    await assert.rejects(createApiServer({ ...base, maxMessageBytes: -1 }), RangeError);
    await assert.rejects(
      createApiServer({ ...base, tls: { ...base.tls, ca: undefined } }),
      /'tls\.ca' is required when 'tls\.requestClientCert' is set/,
    );
  });

  it("an aborted signal closes the server", async () => {
    const ac = new AbortController();
    const server = await createApiServer({
      routes: () => {},
      tls: { cert: pki.node.cert, key: pki.node.key, requestClientCert: false },
      listen: { host: "127.0.0.1", port: 0 },
      maintenance: true,
      signal: ac.signal,
    });
    ac.abort();
    await server.close();
    await assert.rejects(rawPost(server.url, pki, "/x", {}, new Uint8Array()), (err: Error) =>
      /ECONNREFUSED/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`),
    );
  });
});
