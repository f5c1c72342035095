import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Role } from "../pki/roles.ts";
import { TestSpec } from "../runtime/state/conformance/test-resources.ts";
import { createStoreEngine } from "../runtime/state/internal/store-engine.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { identityKey } from "./auth/identity.ts";
import { fromConnectError } from "./error-mapping.ts";
import { LabelTerm_Op, ResourceService, WatchEventType } from "./gen/plinth/resource/v1alpha1/resource_pb.ts";
import { createErrorInterceptor } from "./interceptors/error-interceptor.ts";
import { createResourceService } from "./resource-service.ts";
import { createTestRegistry, PrivateTestSpec, SecretTestSpec } from "./testing/test-api.ts";

function serve(role: Role) {
  const engine = createStoreEngine();
  const registry = createTestRegistry();
  const as: Interceptor = (next) => (req) => {
    req.contextValues.set(identityKey, {
      kind: "certificate",
      subject: "t",
      roles: [role],
      certificate: new Uint8Array(),
    });
    return next(req);
  };
  const state = withValidation(engine, registry);
  const transport = createRouterTransport(
    (r) => r.service(ResourceService, createResourceService({ state, registry })),
    { router: { interceptors: [createErrorInterceptor(), as] } },
  );
  return { engine, state, client: createClient(ResourceService, transport) };
}

const eventNames = new Map<number, string>(Object.entries(WatchEventType).map(([name, n]) => [n, name]));

const make = (id: string, labels: Record<string, string> = {}) =>
  TestSpec.make(id, { value: id, count: 0 }, { labels });

describe("resource service", () => {
  it("reads by type name or alias, in the type's namespace unless one is given", async () => {
    const { state, client } = serve("os:reader");
    await state.create(make("a"));
    await state.create(TestSpec.make("b", { value: "b", count: 0 }, { namespace: "other" }));
    const ids = async (req: { type: string; namespace?: string }) =>
      (await client.list(req)).messages[0]!.resources.map((r) => r.metadata?.id);
    assert.deepEqual(await ids({ type: "testspecs" }), ["a"]);
    assert.deepEqual(await ids({ type: "ts", namespace: "other" }), ["b"]);
    const got = await client.get({ type: "TestSpec", id: "a" });
    assert.equal(got.messages[0]?.resource?.metadata?.version, 1n);
  });

  it("filters lists by label query", async () => {
    const { state, client } = serve("os:reader");
    await state.create(make("a", { app: "web" }));
    await state.create(make("b", { app: "db" }));
    const res = await client.list({
      type: "ts",
      labelQuery: [{ key: "app", op: LabelTerm_Op.IN, values: ["db", "cache"] }],
    });
    assert.deepEqual(
      res.messages[0]!.resources.map((r) => r.metadata?.id),
      ["b"],
    );
    const bad = client.list({ type: "ts", labelQuery: [{ key: "app", op: LabelTerm_Op.EQUAL, values: [] }] });
    await assert.rejects(bad, (err) =>
      /OP_EQUAL needs exactly one value/.test(fromConnectError(err).message),
    );
  });

  it("hides sensitive types from roles that may not read them", async () => {
    for (const role of ["os:reader", "os:operator"] as const) {
      const { state, client } = serve(role);
      await state.create(SecretTestSpec.make("k", { secret: "s" }));
      await assert.rejects(client.list({ type: "sts" }), (err) => {
        const e = fromConnectError(err);
        return e.code === "permission_denied" && e.message.includes(`role ${role}`);
      });
    }
    const { state, client } = serve("os:admin");
    await state.create(SecretTestSpec.make("k", { secret: "s" }));
    assert.equal((await client.list({ type: "sts" })).messages[0]?.resources.length, 1);
  });

  it("serves private types to no role, os:admin included", async () => {
    for (const role of ["os:admin", "os:operator", "os:reader"] as const) {
      const { state, client } = serve(role);
      await state.create(PrivateTestSpec.make("k", { key: "never-shown" }));
      for (const read of [
        () => client.get({ type: "pts", id: "k" }),
        () => client.list({ type: "PrivateTestSpec" }),
        async () => {
          for await (const m of client.watch({ type: "pts", bootstrapContents: true })) return m;
        },
      ]) {
        await assert.rejects(read(), (err) => {
          const e = fromConnectError(err);
          return e.code === "permission_denied" && /private to the machine/.test(e.message);
        });
      }
    }
  });

  it("watch streams the runtime's events in order and ends cleanly on cancel", async () => {
    const { engine, state, client } = serve("os:reader");
    await state.create(make("a"));
    const ac = new AbortController();
    const stream = client.watch({ type: "ts", bootstrapContents: true }, { signal: ac.signal });
    const seen: string[] = [];
    const reading = (async () => {
      try {
        for await (const m of stream) {
          seen.push(`${eventNames.get(m.eventType)}${m.resource ? `:${m.resource.metadata?.id}` : ""}`);
          if (seen.length === 3) {
            await state.create(make("b"));
            await state.create(make("c"));
          }
          if (seen.length === 5) ac.abort();
        }
      } catch (err) {
        return fromConnectError(err).code;
      }
      return "ended";
    })();
    assert.equal(await reading, "canceled");
    assert.deepEqual(seen, ["ESTABLISHED", "CREATED:a", "BOOTSTRAPPED", "CREATED:b", "CREATED:c"]);
    const deadline = Date.now() + 2000;
    while (engine.hub.watcherCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(engine.hub.watcherCount, 0);
  });
});
