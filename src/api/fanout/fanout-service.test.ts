import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { TestSpec } from "../../runtime/state/conformance/test-resources.ts";
import { createStoreEngine } from "../../runtime/state/internal/store-engine.ts";
import { withValidation } from "../../runtime/state/validating-state.ts";
import { toNodes } from "../client/api-transport.ts";
import { fromConnectError } from "../error-mapping.ts";
import { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService, WatchEventType } from "../gen/plinth/resource/v1alpha1/resource_pb.ts";
import { callOutcome } from "../testing/call-outcome.ts";
import type { TestApi } from "../testing/test-api.ts";
import { createTestRegistry, SecretTestSpec, startTestApi } from "../testing/test-api.ts";
import type { TestCert, TestPki } from "../testing/test-pki.ts";
import { createTestPki } from "../testing/test-pki.ts";
import { encodeForwardedCertificate, forwardedCertificateHeader } from "./forwarded-certificate.ts";
import { replyShape } from "./replies.ts";

const derOf = (cert: TestCert) => encodeForwardedCertificate(new X509Certificate(cert.cert).raw);

describe("reply conventions", () => {
  it("every RPC of the Plinth services can be fanned out", () => {
    for (const m of [...MachineService.methods, ...ResourceService.methods]) {
      assert.ok(replyShape(m), `${m.parent.typeName}/${m.name} does not follow the reply conventions`);
    }
  });
});

describe("fan-out across three nodes, one stopped", () => {
  let pki: TestPki;
  let entry: TestApi;
  let second: TestApi;
  let names: { entry: string; second: string; stopped: string };
  const engines = [createStoreEngine(), createStoreEngine()];

  before(async () => {
    pki = await createTestPki();
    const registry = createTestRegistry();
    entry = await startTestApi({
      pki,
      node: "entry",
      fanout: true,
      state: withValidation(engines[0]!, registry),
    });
    second = await startTestApi({
      pki,
      node: "second",
      fanout: true,
      state: withValidation(engines[1]!, registry),
    });
    const stopped = await startTestApi({ pki, node: "stopped", fanout: true });
    await stopped.close();
    names = {
      entry: `127.0.0.1:${entry.server.port}`,
      second: `127.0.0.1:${second.server.port}`,
      stopped: `127.0.0.1:${stopped.server.port}`,
    };
    for (const api of [entry, second]) {
      await api.state.create(TestSpec.make("shared", { value: api === entry ? "e" : "s", count: 0 }));
      await api.state.create(SecretTestSpec.make("key", { secret: "s" }));
    }
  });
  after(async () => {
    await entry.close();
    await second.close();
  });

  const all = () => [names.entry, names.second, names.stopped];
  const machineAs = (cert: TestCert) => createClient(MachineService, entry.connect(cert).transport);
  const resourcesAs = (cert: TestCert) => createClient(ResourceService, entry.connect(cert).transport);

  it("merges unary replies tagged by node; the stopped node is an error entry, not a failed call", async () => {
    const res = await machineAs(pki.clients["os:reader"]).version({}, toNodes(all()));
    const byNode = new Map(res.messages.map((m) => [m.metadata?.node, m]));
    assert.deepEqual([...byNode.keys()].sort(), all().sort());
    assert.equal(byNode.get(names.entry)?.version?.tag, "fake-entry");
    assert.equal(byNode.get(names.second)?.version?.tag, "fake-second");
    assert.equal(byNode.get(names.entry)?.metadata?.error, "");
    const down = byNode.get(names.stopped)!;
    assert.equal(down.metadata?.code, "unavailable");
    assert.notEqual(down.metadata?.error, "");
    assert.equal(down.version, undefined);
  });

  it("without nodes the receiving node answers alone, untagged", async () => {
    const res = await machineAs(pki.clients["os:reader"]).version({});
    assert.equal(res.messages.length, 1);
    assert.equal(res.messages[0]?.metadata, undefined);
    assert.equal(res.messages[0]?.version?.tag, "fake-entry");
  });

  it("the nodes apply the caller's role, not the forwarding node's", async () => {
    const asReader = resourcesAs(pki.clients["os:reader"]);
    const res = await asReader.get({ type: "sts", id: "key" }, toNodes([names.entry, names.second]));
    assert.equal(res.messages.length, 2);
    for (const m of res.messages) {
      assert.equal(m.metadata?.code, "permission_denied");
      assert.match(
        m.metadata!.error,
        /role os:reader \(CN=reader, forwarded by CN=node\) may not read SecretTestSpec/,
      );
      assert.equal(m.resource, undefined);
    }
    const asAdmin = resourcesAs(pki.clients["os:admin"]);
    const ok = await asAdmin.get({ type: "sts", id: "key" }, toNodes([names.entry, names.second]));
    assert.deepEqual(
      ok.messages.map((m) => m.resource?.metadata?.id),
      ["key", "key"],
    );
  });

  it("a caller refused by the receiving node is refused as a whole", async () => {
    await assert.rejects(machineAs(pki.clients["os:reader"]).reboot({}, toNodes(all())), (err) => {
      const e = fromConnectError(err);
      return e.code === "permission_denied" && /role os:reader/.test(e.message);
    });
  });

  it("an operator's allowed call reaches every live node", async () => {
    const res = await machineAs(pki.clients["os:operator"]).serviceRestart({ id: "web" }, toNodes(all()));
    const answers = res.messages.map((m) => `${m.metadata?.node}=${m.response || m.metadata?.code}`).sort();
    assert.deepEqual(
      answers,
      [
        `${names.entry}=entry: restarted web`,
        `${names.second}=second: restarted web`,
        `${names.stopped}=unavailable`,
      ].sort(),
    );
  });

  it("a malformed node name is an error entry for that name", async () => {
    const res = await machineAs(pki.clients["os:reader"]).version({}, toNodes([names.entry, "a/b@c"]));
    const bad = res.messages.find((m) => m.metadata?.node === "a/b@c");
    assert.equal(bad?.metadata?.code, "invalid_argument");
    assert.equal(res.messages.find((m) => m.metadata?.node === names.entry)?.version?.tag, "fake-entry");
  });

  it("merges streams, tagging every message with its node", async () => {
    const client = machineAs(pki.clients["os:reader"]);
    const seen: string[] = [];
    for await (const m of client.logs({ id: "x", tailLines: 2 }, toNodes(all()))) {
      seen.push(`${m.metadata?.node}:${m.metadata?.code || new TextDecoder().decode(m.data).trim()}`);
    }
    assert.deepEqual(
      seen.sort(),
      [
        `${names.entry}:entry line 0`,
        `${names.entry}:entry line 1`,
        `${names.second}:second line 0`,
        `${names.second}:second line 1`,
        `${names.stopped}:unavailable`,
      ].sort(),
    );
  });

  it("a fanned-out watch delivers each node's events, and canceling it ends the nodes' watches", async () => {
    const client = resourcesAs(pki.clients["os:reader"]);
    const ac = new AbortController();
    const stream = client
      .watch({ type: "TestSpec" }, { ...toNodes([names.entry, names.second]), signal: ac.signal })
      [Symbol.asyncIterator]();
    const established = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const m = (await stream.next()).value!;
      assert.equal(m.eventType, WatchEventType.ESTABLISHED);
      established.add(m.metadata!.node);
    }
    assert.deepEqual([...established].sort(), [names.entry, names.second].sort());
    await second.state.create(TestSpec.make("new", { value: "n", count: 0 }));
    const event = (await stream.next()).value!;
    assert.equal(event.eventType, WatchEventType.CREATED);
    assert.equal(event.metadata?.node, names.second);
    assert.equal(event.resource?.metadata?.id, "new");
    assert.equal(engines[0]!.hub.watcherCount + engines[1]!.hub.watcherCount, 2);
    ac.abort();
    await assert.rejects(stream.next(), (err) => fromConnectError(err).code === "canceled");
    const deadline = Date.now() + 2000;
    while (engines[0]!.hub.watcherCount + engines[1]!.hub.watcherCount > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(engines[0]!.hub.watcherCount + engines[1]!.hub.watcherCount, 0);
  });
});

describe("forwarded caller certificates", () => {
  let pki: TestPki;
  let api: TestApi;
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki });
  });
  after(() => api.close());

  function versionAs(peer: TestCert, forwarded: string): Promise<string> {
    const client = createClient(MachineService, api.connect(peer).transport);
    const headers = new Headers({ [forwardedCertificateHeader]: forwarded });
    return callOutcome(client.reboot({}, { headers }));
  }

  it("from a node certificate, the call is the forwarded caller's", async () => {
    assert.equal(await versionAs(pki.node, derOf(pki.clients["os:operator"])), "ok");
    assert.match(
      await versionAs(pki.node, derOf(pki.clients["os:reader"])),
      /^permission_denied: role os:reader \(CN=reader, forwarded by CN=node\) may not call/,
    );
  });

  it("from a client certificate, even an admin's, it is refused", async () => {
    assert.match(
      await versionAs(pki.clients["os:admin"], derOf(pki.clients["os:operator"])),
      /^unauthenticated: .*only a node certificate \(os:impersonator\) may forward/,
    );
  });

  it("an expired, foreign or garbled forwarded certificate is refused", async () => {
    assert.match(
      await versionAs(pki.node, derOf(pki.expired)),
      /^unauthenticated: .*CN=expired is not valid now/,
    );
    assert.match(
      await versionAs(pki.node, derOf(pki.wrongCa)),
      /^unauthenticated: .*CN=stranger is not signed by the API CA/,
    );
    assert.match(await versionAs(pki.node, "bm90IGEgY2VydA=="), /^unauthenticated: .*cannot be parsed/);
  });

  it("a forwarded node certificate grants nothing", async () => {
    assert.match(
      await versionAs(pki.node, derOf(pki.clients["os:impersonator"])),
      /^permission_denied: CN=impersonator \(no Plinth role, forwarded by CN=node\)/,
    );
  });
});

describe("fan-out in maintenance mode", () => {
  it("is refused: there is no client certificate to forward", async () => {
    const pki = await createTestPki();
    const api = await startTestApi({ pki, maintenance: true, fanout: true });
    try {
      const client = createClient(MachineService, api.connect(undefined).transport);
      await assert.rejects(client.version({}, toNodes(["127.0.0.1:1"])), (err) => {
        const e = fromConnectError(err);
        return e.code === "failed_precondition" && /no client certificate to forward/.test(e.message);
      });
      assert.equal((await client.version({})).messages[0]?.version?.tag, "fake-node");
    } finally {
      await api.close();
    }
  });
});
