import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import {
  create as createMessage,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { TestSpec } from "../runtime/state/conformance/test-resources.ts";
import type { CoreState } from "../runtime/state/core-state.ts";
import { createStoreEngine } from "../runtime/state/internal/store-engine.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { eventually } from "../testing/eventually.ts";
import { MachineService } from "./gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceToWire } from "./resource-wire.ts";
import { callOutcome } from "./testing/call-outcome.ts";
import type { TestApi } from "./testing/test-api.ts";
import { createTestRegistry, startTestApi } from "./testing/test-api.ts";
import type { TestCert, TestPki } from "./testing/test-pki.ts";
import { createTestPki } from "./testing/test-pki.ts";

// The gRPC fast path (grpc-fast-path.ts) against connect: calls made with @grpc/grpc-js, a
// client that is neither path's own, and the same raw requests sent once to each path and
// compared byte for byte. A `nodes` header sends a call to connect (which fans out); the test
// servers here have no fan-out, so connect then answers it locally, like the fast path would.

const port = (api: TestApi) => new URL(api.server.url).port;

function grpcClient(api: TestApi, pki: TestPki, cert: TestCert | undefined): grpc.Client {
  const creds = grpc.credentials.createSsl(
    Buffer.from(pki.ca),
    cert ? Buffer.from(cert.key) : null,
    cert ? Buffer.from(cert.cert) : null,
  );
  return new grpc.Client(`127.0.0.1:${port(api)}`, creds);
}

interface GrpcOutcome<T> {
  readonly code: grpc.status;
  readonly message: string;
  readonly reply?: T;
  readonly metadata?: grpc.Metadata;
}

/** A unary call through grpc-js; `raw` replaces the encoded request (to send garbage). */
function grpcCall<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  input: MessageInitShape<I>,
  options: { raw?: Uint8Array; deadlineMs?: number } = {},
): Promise<GrpcOutcome<MessageShape<O>>> {
  const bytes = options.raw ?? toBinary(method.input, createMessage(method.input, input));
  const callOptions = options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {};
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => fromBinary(method.output, b),
      bytes,
      new grpc.Metadata(),
      callOptions,
      (err, reply) => {
        // Connect percent-encodes grpc-message as a URI component (both paths write it so);
        // grpc-js decodes only what the gRPC spec asks to encode.
        if (err)
          resolve({ code: err.code, message: decodeURIComponent(err.details), metadata: err.metadata });
        else resolve({ code: grpc.status.OK, message: "", reply });
      },
    );
  });
}

interface RawAnswer {
  readonly contentType: string;
  readonly status: string;
  readonly message: string;
  readonly details: string;
  readonly body: Buffer;
}

/** One raw HTTP/2 gRPC request; what came back, headers and trailers together. */
async function rawGrpc(
  api: TestApi,
  pki: TestPki,
  cert: TestCert | undefined,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const session = http2.connect(api.server.url, { ca: pki.ca, cert: cert?.cert, key: cert?.key });
  try {
    return await new Promise((resolve, reject) => {
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      const all: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => Object.assign(all, h));
      req.on("trailers", (t) => Object.assign(all, t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () =>
        resolve({
          contentType: String(all["content-type"]),
          status: String(all["grpc-status"]),
          message: decodeURIComponent(String(all["grpc-message"] ?? "")),
          details: String(all["grpc-status-details-bin"] ?? ""),
          body: Buffer.concat(chunks),
        }),
      );
      req.end(body);
    });
  } finally {
    session.close();
  }
}

function frame(bytes: Uint8Array): Uint8Array {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

const path = (m: DescMethodUnary) => `/${m.parent.typeName}/${m.name}`;
// The two paths' response content types: how a test tells which one answered.
const fastType = "application/grpc";
const connectType = "application/grpc+proto";

/** A state whose Get of id "slow" answers only when the call's signal aborts, with its reason. */
function withSlowGet(state: CoreState, aborted: unknown[]): CoreState {
  return {
    ...state,
    get(ptr, opts) {
      if (ptr.id !== "slow") return state.get(ptr, opts);
      return new Promise((_, reject) => {
        const signal = opts?.signal;
        if (!signal) return reject(new Error("the call passed no signal"));
        signal.addEventListener("abort", () => {
          aborted.push(signal.reason);
          reject(signal.reason);
        });
      });
    },
  };
}

describe("gRPC fast path", () => {
  let pki: TestPki;
  let api: TestApi;
  const engine = createStoreEngine();
  const aborted: unknown[] = [];
  before(async () => {
    pki = await createTestPki();
    const state = withValidation(withSlowGet(engine, aborted), createTestRegistry());
    api = await startTestApi({ pki, state, maxMessageBytes: 64 * 1024 });
    await api.state.create(TestSpec.make("seed", { value: "v", count: 0 }));
  });
  after(() => api.close());
  const clients: grpc.Client[] = [];
  after(() => {
    for (const c of clients) c.close();
  });
  const as = (cert: TestCert | undefined) => {
    const c = grpcClient(api, pki, cert);
    clients.push(c);
    return c;
  };

  // The allowed roles are written here independently of the access table, as its own test does.
  const cases: {
    name: string;
    call: (c: grpc.Client) => Promise<GrpcOutcome<unknown>>;
    allowed: string[];
  }[] = [
    {
      name: "MachineService/Version",
      call: (c) => grpcCall(c, MachineService.method.version, {}),
      allowed: ["os:admin", "os:operator", "os:reader"],
    },
    {
      name: "MachineService/ServiceRestart",
      call: (c) => grpcCall(c, MachineService.method.serviceRestart, { id: "x" }),
      allowed: ["os:admin", "os:operator"],
    },
    {
      name: "MachineService/Reset",
      call: (c) => grpcCall(c, MachineService.method.reset, {}),
      allowed: ["os:admin"],
    },
    {
      name: "ResourceService/Get",
      call: (c) => grpcCall(c, ResourceService.method.get, { type: "ts", id: "seed" }),
      allowed: ["os:admin", "os:operator", "os:reader"],
    },
    {
      name: "ResourceService/Get of a sensitive type",
      call: (c) => grpcCall(c, ResourceService.method.get, { type: "sts", id: "secret" }),
      allowed: ["os:admin"],
    },
  ];
  const callers = ["os:admin", "os:operator", "os:reader", "os:etcd:backup", "no role", "none"] as const;
  const certOf = (who: (typeof callers)[number]) =>
    who === "none" ? undefined : who === "no role" ? pki.noRole : pki.clients[who];

  for (const c of cases) {
    it(`${c.name}: allowed roles are served, others denied, over grpc-js`, async () => {
      for (const who of callers) {
        const out = await c.call(as(certOf(who)));
        if (who === "none") {
          assert.equal(out.code, grpc.status.UNAUTHENTICATED, `${who}: ${out.message}`);
          assert.match(out.message, /needs a client certificate signed by the API CA: no client certificate/);
        } else if (c.allowed.includes(who)) {
          // A sensitive read that is allowed finds nothing here: the role check passed.
          const ok = c.name.endsWith("sensitive type") ? grpc.status.NOT_FOUND : grpc.status.OK;
          assert.equal(out.code, ok, `${who}: ${out.message}`);
        } else {
          assert.equal(out.code, grpc.status.PERMISSION_DENIED, `${who}: ${out.message}`);
          assert.match(out.message, who === "no role" ? /no Plinth role/ : new RegExp(`role ${who}`));
          // The exact Plinth code travels in the details, as on the connect path.
          assert.ok(out.metadata?.get("grpc-status-details-bin").length, "error details are sent");
        }
      }
    });
  }

  it("answers a certificate from another CA UNAUTHENTICATED, saying why", async () => {
    const out = await grpcCall(as(pki.wrongCa), MachineService.method.version, {});
    assert.equal(out.code, grpc.status.UNAUTHENTICATED);
    assert.match(out.message, /was rejected: it is not signed by the API CA/);
  });

  it("replies with the implementation's message", async () => {
    const version = await grpcCall(as(pki.clients["os:reader"]), MachineService.method.version, {});
    assert.equal(version.reply?.messages[0]?.version?.tag, "fake-node");
    const got = await grpcCall(as(pki.clients["os:reader"]), ResourceService.method.get, {
      type: "ts",
      id: "seed",
    });
    assert.equal(got.reply?.messages[0]?.resource?.metadata?.id, "seed");
  });

  it("answers malformed protobuf INTERNAL with the decoder's message, changing nothing", async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const out = await grpcCall(
      as(pki.clients["os:admin"]),
      ResourceService.method.create,
      {},
      { raw: garbage },
    );
    assert.equal(out.code, grpc.status.INTERNAL);
    assert.match(out.message, /^parse binary: illegal tag/);
    assert.equal((await engine.list(TestSpec.kind())).length, 1);
  });

  it("refuses an oversized message naming the limit, before any check, changing nothing", async () => {
    const big = TestSpec.make("big", { value: "x".repeat(100 * 1024), count: 0 });
    for (const cert of [pki.clients["os:admin"], undefined]) {
      const out = await grpcCall(as(cert), ResourceService.method.create, { resource: resourceToWire(big) });
      assert.equal(out.code, grpc.status.RESOURCE_EXHAUSTED, out.message);
      assert.match(out.message, /^message size \d+ is larger than configured readMaxBytes 65536$/);
    }
    assert.equal((await engine.list(TestSpec.kind())).length, 1);
  });

  // grpc-js cancels the call itself at its deadline, the moment the server's timer fires, so
  // either may end it first; the raw comparison below ("a deadline") pins the server's answer.
  it("ends the implementation's wait at a grpc-js deadline", async () => {
    aborted.length = 0;
    const started = Date.now();
    const out = await grpcCall(
      as(pki.clients["os:reader"]),
      ResourceService.method.get,
      { type: "ts", id: "slow" },
      { deadlineMs: 300 },
    );
    assert.equal(out.code, grpc.status.DEADLINE_EXCEEDED);
    await eventually("the call's signal to abort", () => aborted.length === 1 || undefined, 2000, 10);
    assert.ok(Date.now() - started < 1500, "aborted at the deadline, not later");
    assert.match(String(aborted[0]), /the operation timed out|the client went away/);
  });

  it("serves a gzip-compressed call through connect", async () => {
    const creds = grpc.credentials.createSsl(
      Buffer.from(pki.ca),
      Buffer.from(pki.clients["os:reader"].key),
      Buffer.from(pki.clients["os:reader"].cert),
    );
    const client = new grpc.Client(`127.0.0.1:${port(api)}`, creds, {
      "grpc.default_compression_algorithm": 2, // gzip
    });
    clients.push(client);
    const out = await grpcCall(client, MachineService.method.version, {});
    assert.equal(out.code, grpc.status.OK, out.message);
    assert.equal(out.reply?.messages[0]?.version?.tag, "fake-node");
  });

  describe("answers exactly as connect does", () => {
    const version = frame(
      toBinary(MachineService.method.version.input, createMessage(MachineService.method.version.input)),
    );
    const get = (id: string, type = "ts") =>
      frame(
        toBinary(
          ResourceService.method.get.input,
          createMessage(ResourceService.method.get.input, { type, id }),
        ),
      );
    const compared: {
      name: string;
      cert: () => TestCert | undefined;
      path: string;
      body: () => Uint8Array;
      headers?: Record<string, string>;
    }[] = [
      {
        name: "a served call",
        cert: () => pki.clients["os:reader"],
        path: path(ResourceService.method.get),
        body: () => get("seed"),
      },
      {
        name: "denial",
        cert: () => pki.clients["os:reader"],
        path: path(MachineService.method.reset),
        body: () => version,
      },
      {
        name: "no certificate",
        cert: () => undefined,
        path: path(MachineService.method.version),
        body: () => version,
      },
      {
        name: "an error from the implementation",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => get("missing"),
      },
      {
        name: "invalid input",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => get("x", ""),
      },
      {
        name: "malformed protobuf",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => frame(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])),
      },
      {
        name: "no message",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => new Uint8Array(),
      },
      {
        name: "an incomplete envelope",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => get("seed").subarray(0, 8),
      },
      {
        name: "two messages",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => Buffer.concat([get("seed"), get("seed")]),
      },
      {
        name: "an oversized message",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => frame(new Uint8Array(70 * 1024)),
      },
      {
        name: "a deadline",
        cert: () => pki.clients["os:admin"],
        path: path(ResourceService.method.get),
        body: () => get("slow"),
        headers: { "grpc-timeout": "200m" },
      },
    ];
    for (const c of compared) {
      it(c.name, async () => {
        const fast = await rawGrpc(api, pki, c.cert(), c.path, c.body(), c.headers);
        const viaConnect = await rawGrpc(api, pki, c.cert(), c.path, c.body(), { ...c.headers, nodes: "" });
        assert.equal(fast.contentType, fastType, "the fast path answered");
        assert.equal(viaConnect.contentType, connectType, "connect answered");
        assert.deepEqual(
          {
            status: fast.status,
            message: fast.message,
            details: fast.details,
            body: fast.body.toString("hex"),
          },
          {
            status: viaConnect.status,
            message: viaConnect.message,
            details: viaConnect.details,
            body: viaConnect.body.toString("hex"),
          },
        );
      });
    }
  });

  it("leaves streams, compression, malformed deadlines and fan-out to connect", async () => {
    const admin = pki.clients["os:admin"];
    const logs = frame(
      toBinary(
        MachineService.method.logs.input,
        createMessage(MachineService.method.logs.input, { id: "x", tailLines: 1 }),
      ),
    );
    const streamed = await rawGrpc(api, pki, admin, "/plinth.machine.v1alpha1.MachineService/Logs", logs);
    assert.equal(streamed.contentType, connectType);
    assert.equal(streamed.status, "0");
    const version = frame(new Uint8Array());
    const unknownEncoding = await rawGrpc(api, pki, admin, path(MachineService.method.version), version, {
      "grpc-encoding": "snappy",
    });
    assert.equal(unknownEncoding.contentType, connectType);
    assert.equal(unknownEncoding.status, String(grpc.status.UNIMPLEMENTED));
    assert.match(unknownEncoding.message, /snappy/);
    const badTimeout = await rawGrpc(api, pki, admin, path(MachineService.method.version), version, {
      "grpc-timeout": "soon",
    });
    assert.equal(badTimeout.status, String(grpc.status.INVALID_ARGUMENT));
    assert.match(badTimeout.message, /invalid grpc timeout value: soon/);
  });
});

describe("gRPC fast path in maintenance mode", () => {
  let pki: TestPki;
  let api: TestApi;
  const clients: grpc.Client[] = [];
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki, maintenance: true });
  });
  after(async () => {
    for (const c of clients) c.close();
    await api.close();
  });

  it("serves only ApplyConfiguration and Version, to anyone", async () => {
    // The server asks for no certificate; grpc-js still verifies the server's.
    const client = grpcClient(api, pki, undefined);
    clients.push(client);
    const version = await grpcCall(client, MachineService.method.version, {});
    assert.equal(version.code, grpc.status.OK, version.message);
    const apply = await grpcCall(client, MachineService.method.applyConfiguration, {
      data: new TextEncoder().encode("kind: X\n"),
    });
    assert.equal(apply.code, grpc.status.OK, apply.message);
    for (const out of [
      await grpcCall(client, MachineService.method.reset, {}),
      await grpcCall(client, ResourceService.method.get, { type: "ts", id: "seed" }),
    ]) {
      assert.equal(out.code, grpc.status.PERMISSION_DENIED);
      assert.match(out.message, /the machine is in maintenance mode/);
    }
  });
});

describe("gRPC-Web and Connect beside the fast path", () => {
  let pki: TestPki;
  let api: TestApi;
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki });
  });
  after(() => api.close());

  for (const protocol of ["grpc-web", "connect"] as const) {
    for (const httpVersion of ["2", "1.1"] as const) {
      it(`${protocol} over HTTP/${httpVersion}: served, denied and unauthenticated as before`, async () => {
        const reader = createClient(
          MachineService,
          api.connect(pki.clients["os:reader"], { protocol, httpVersion }).transport,
        );
        assert.equal((await reader.version({})).messages[0]?.version?.tag, "fake-node");
        assert.match(await callOutcome(reader.reset({})), /^permission_denied: role os:reader/);
        const anonymous = createClient(
          MachineService,
          api.connect(undefined, { protocol, httpVersion }).transport,
        );
        assert.match(await callOutcome(anonymous.version({})), /^unauthenticated: /);
      });
    }
  }
});
