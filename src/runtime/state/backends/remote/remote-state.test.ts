import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRouterTransport } from "@connectrpc/connect";
import type { ApiTransport } from "../../../../api/client/api-transport.ts";
import { ResourceService } from "../../../../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { createErrorInterceptor } from "../../../../api/interceptors/error-interceptor.ts";
import { createResourceService } from "../../../../api/resource-service.ts";
import type { TestApi } from "../../../../api/testing/test-api.ts";
import { createTestRegistry, SecretTestSpec, startTestApi } from "../../../../api/testing/test-api.ts";
import type { TestPki } from "../../../../api/testing/test-pki.ts";
import { createTestPki } from "../../../../api/testing/test-pki.ts";
import { hasCode } from "../../../../errors/plinth-error.ts";
import { stateConformance } from "../../conformance/conformance.ts";
import { TestSpec } from "../../conformance/test-resources.ts";
import { readWatch } from "../../conformance/watch-reader.ts";
import type { CoreState } from "../../core-state.ts";
import { createStoreEngine } from "../../internal/store-engine.ts";
import { withValidation } from "../../validating-state.ts";
import { createRemoteState } from "./remote-state.ts";

/** A CoreState that forwards to whichever state the current test uses. */
function switchable(): { state: CoreState; use(next: CoreState): void } {
  let current: CoreState | undefined;
  const target = () => {
    if (!current) throw new Error("no state in use");
    return current;
  };
  return {
    use: (next) => {
      current = next;
    },
    state: {
      get: (p, o) => target().get(p, o),
      list: (k, o) => target().list(k, o),
      create: (r, o) => target().create(r, o),
      update: (r, o) => target().update(r, o),
      destroy: (p, o) => target().destroy(p, o),
      watch: (p, o) => target().watch(p, o),
      watchKind: (k, o) => target().watchKind(k, o),
      close: () => target().close(),
    },
  };
}

const registry = createTestRegistry();
let pki: TestPki;
let api: TestApi;
let admin: ApiTransport;
const served = switchable();

// Served by a real API server over mTLS on 127.0.0.1, with an os:admin client certificate.
stateConformance("remote over mTLS", {
  setup: async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki, state: served.state });
    admin = api.connect(pki.clients["os:admin"]);
  },
  teardown: () => api.close(),
  create: async () => {
    served.use(withValidation(createStoreEngine(), registry));
    return createRemoteState({ transport: admin.transport });
  },
});

// And in process, through connect's router transport: the same service, no sockets.
stateConformance("remote in process", {
  create: async () => {
    const state = withValidation(createStoreEngine(), registry);
    const transport = createRouterTransport(
      (router) => router.service(ResourceService, createResourceService({ state, registry })),
      { router: { interceptors: [createErrorInterceptor()] } },
    );
    return createRemoteState({ transport });
  },
});

describe("remote state", () => {
  let pki: TestPki;
  let api: TestApi;
  const engine = createStoreEngine({ historySize: 4 });
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki, state: withValidation(engine, registry) });
  });
  after(() => api.close());

  it("a lost history keeps its code and last bookmark across the wire", async () => {
    const state = createRemoteState({ transport: api.connect(pki.clients["os:admin"]).transport });
    await state.create(TestSpec.make("h", { value: "v", count: 0 }));
    for (let i = 1; i <= 8; i++) {
      const r = await state.get(TestSpec.ptr("h"));
      await state.update({ ...r, spec: { value: "v", count: i } });
    }
    const w = readWatch(state.watchKind(TestSpec.kind(), { startFromBookmark: "1" }));
    await assert.rejects(
      w.next(),
      (err) =>
        hasCode(err, "history_lost") && (err as { details: { bookmark: string } }).details.bookmark === "5",
    );
    await w.close();
    await state.close();
  });

  it("a reader may read public types but not write or read sensitive ones", async () => {
    const asAdmin = createRemoteState({ transport: api.connect(pki.clients["os:admin"]).transport });
    await asAdmin.create(SecretTestSpec.make("k", { secret: "s" }));
    const state = createRemoteState({ transport: api.connect(pki.clients["os:reader"]).transport });
    assert.ok((await state.list(TestSpec.kind())).length > 0);
    await assert.rejects(state.create(TestSpec.make("r", { value: "v", count: 0 })), (err) =>
      hasCode(err, "permission_denied"),
    );
    await assert.rejects(
      state.get(SecretTestSpec.ptr("k")),
      (err) =>
        hasCode(err, "permission_denied") &&
        /role os:reader .* may not read SecretTestSpec/.test(String(err)),
    );
    await assert.rejects(readWatch(state.watchKind(SecretTestSpec.kind())).next(), (err) =>
      hasCode(err, "permission_denied"),
    );
    await state.close();
    await asAdmin.close();
  });

  it("a canceled or closed watch ends on both ends", async () => {
    const state = createRemoteState({ transport: api.connect(pki.clients["os:admin"]).transport });
    const ac = new AbortController();
    const a = readWatch(state.watchKind(TestSpec.kind(), { signal: ac.signal, bootstrapContents: true }));
    const b = readWatch(state.watch(TestSpec.ptr("h")));
    await a.next();
    await b.next();
    assert.equal(engine.hub.watcherCount, 2);
    ac.abort();
    await assert.rejects(a.next(100), /watch ended/);
    await state.close();
    await assert.rejects(b.next(100), /watch ended/);
    const deadline = Date.now() + 2000;
    while (engine.hub.watcherCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.hub.watcherCount, 0, "the server closed its watches");
    await assert.rejects(state.get(TestSpec.ptr("h")), (err) => hasCode(err, "unavailable"));
  });

  it("an unreachable server is unavailable", async () => {
    const other = await startTestApi({ pki });
    const transport = other.connect(pki.clients["os:admin"]).transport;
    await other.close();
    const state = createRemoteState({ transport });
    await assert.rejects(state.get(TestSpec.ptr("x")), (err) => hasCode(err, "unavailable"));
    await state.close();
  });
});
