import assert from "node:assert/strict";
import { createServer } from "node:net";
import { afterEach, describe, it } from "node:test";
import { Registry } from "prom-client";
import { listen } from "../../../balancer/listen.ts";
import { request } from "../../../balancer/testing/loopback-client.ts";
import { startTestUpstream, type TestUpstream } from "../../../balancer/testing/test-upstream.ts";
import type { ConfigBundle } from "../../../config/config-bundle.ts";
import { loadConfig } from "../../../config/load-config.ts";
import { fixtures, yamlOf } from "../../../config/testing/fixtures.ts";
import {
  type ControllerRuntime,
  createControllerRuntime,
} from "../../../runtime/controller/controller-runtime.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { createRegistry } from "../../../runtime/resource/registry.ts";
import { createMemoryState } from "../../../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../../../runtime/state/state.ts";
import { withValidation } from "../../../runtime/state/validating-state.ts";
import { freePort } from "../../../testing/free-port.ts";
import { APIBalancerSpec, APIBalancerStatus, apiBalancerId, type EtcdMember } from "../../resources/index.ts";
import { apiBalancerSpecFromConfig } from "./api-balancer-config-controller.ts";
import { apiBalancerControllerName, createApiBalancerController } from "./api-balancer-controller.ts";

type Doc = Record<string, unknown>;
type Member = SpecOf<typeof EtcdMember>;

async function bundle(patch: (docs: Doc[]) => void = () => {}): Promise<ConfigBundle> {
  const docs = structuredClone((await fixtures()).worker) as Doc[];
  patch(docs);
  const result = loadConfig(yamlOf(...docs), { mode: "local" });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.bundle;
}

const member = (peer: string): Member => ({
  name: "cp",
  peerUrls: [peer],
  clientUrls: [],
  isLearner: false,
  isLeader: false,
  healthy: true,
});

describe("config → API balancer spec", () => {
  it("balances to the control-plane endpoint on 127.0.0.1:7445 by default", async () => {
    assert.deepEqual(apiBalancerSpecFromConfig(await bundle(), []), {
      host: "127.0.0.1",
      port: 7445,
      dataPath: "auto",
      upstreams: ["10.5.0.2:6443"],
      healthCheck: { intervalMs: 1000, timeoutMs: 500 },
    });
  });

  it("adds every control plane from etcd membership on the endpoint's port, each once", async () => {
    const spec = apiBalancerSpecFromConfig(await bundle(), [
      member("https://10.5.0.3:2380"),
      member("https://10.5.0.2:2380"),
      member("https://[fd00::4]:2380"),
    ]);
    assert.deepEqual(spec?.upstreams, ["10.5.0.2:6443", "10.5.0.3:6443", "[fd00::4]:6443"]);
  });

  it("adds control planes found by discovery, by their first address, and no workers", async () => {
    const peer = (machineType: string, addresses: string[]) => ({
      nodeId: machineType,
      hostname: machineType,
      nodename: machineType,
      machineType,
      operatingSystem: "Debian",
      addresses,
      endpoints: [],
      source: "discovery" as const,
      stale: false,
    });
    const spec = apiBalancerSpecFromConfig(
      await bundle(),
      [member("https://10.5.0.3:2380")],
      [
        peer("controlplane", ["10.5.0.3", "fd00::3"]),
        peer("controlplane", ["10.5.0.9"]),
        peer("worker", ["10.5.0.20"]),
      ],
    );
    assert.deepEqual(spec?.upstreams, ["10.5.0.2:6443", "10.5.0.3:6443", "10.5.0.9:6443"]);
  });

  it("follows the APIBalancer document, and runs no balancer when it is disabled", async () => {
    const custom = await bundle((docs) =>
      docs.push({
        apiVersion: "v1alpha1",
        kind: "APIBalancer",
        port: 7446,
        healthCheck: { interval: "2s", timeout: "1s" },
      }),
    );
    assert.deepEqual(apiBalancerSpecFromConfig(custom, [])?.port, 7446);
    assert.deepEqual(apiBalancerSpecFromConfig(custom, [])?.healthCheck, {
      intervalMs: 2000,
      timeoutMs: 1000,
    });
    const off = await bundle((docs) =>
      docs.push({ apiVersion: "v1alpha1", kind: "APIBalancer", enabled: false }),
    );
    assert.equal(apiBalancerSpecFromConfig(off, []), undefined);
  });
});

describe("API balancer controller", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    refreshMs = 100,
  ): Promise<{ state: State; runtime: ControllerRuntime; ups: TestUpstream[] }> {
    const ups = await Promise.all(["127.0.11.1", "127.0.11.2"].map((h) => startTestUpstream(h)));
    cleanups.push(() => Promise.all(ups.map((u) => u.kill())).then(() => {}));
    const state = wrapCore(
      withValidation(createMemoryState(), createRegistry([APIBalancerSpec, APIBalancerStatus])),
    );
    const runtime: ControllerRuntime = createControllerRuntime({ state });
    runtime.register(
      createApiBalancerController({
        registry: new Registry(),
        trigger: () => runtime.trigger(apiBalancerControllerName),
        refreshMs,
        retryMs: 100,
      }),
    );
    await runtime.start();
    cleanups.push(() => runtime.stop());
    return { state, runtime, ups };
  }

  // The Node data path: these run in the machine's own network namespace, whose nftables the
  // tests never touch (the kernel path is tested in sandboxes).
  const spec = (port: number, upstreams: string[]) => ({
    host: "127.0.0.1",
    port,
    dataPath: "node" as const,
    upstreams,
    healthCheck: { intervalMs: 100, timeoutMs: 100 },
  });
  const within = () => ({ signal: AbortSignal.timeout(5000) });

  it("runs the balancer of the spec, reports it, applies changes live and stops with the spec", async () => {
    const { state, ups } = await setup();
    const [a, b] = ups as [TestUpstream, TestUpstream];
    const port = await freePort();
    await state.create(APIBalancerSpec.make(apiBalancerId, spec(port, [a.key])));
    const ready = await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.healthyUpstreams === 1,
      within(),
    );
    assert.equal(ready?.spec.listen, `127.0.0.1:${port}`);
    assert.equal(ready?.spec.upstreams[0]?.address, a.key);
    assert.match(await request(port), /^127\.0\.11\.1:ping$/);

    // A member joins: the balancer takes it on without a restart.
    let current = await state.get(APIBalancerSpec.ptr(apiBalancerId));
    current = await state.update({ metadata: current.metadata, spec: spec(port, [a.key, b.key]) });
    await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.healthyUpstreams === 2,
      within(),
    );

    // A port in use is refused and shown; the balancer keeps serving where it was.
    const squatter = createServer();
    const taken = (await listen(squatter, "127.0.0.1", 0)).port;
    cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())));
    current = await state.update({ metadata: current.metadata, spec: spec(taken, [a.key, b.key]) });
    const refused = await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.error !== undefined,
      within(),
    );
    assert.equal(refused?.spec.error, `Cannot listen on 127.0.0.1:${taken}: the address is already in use`);
    assert.equal(refused?.spec.listen, `127.0.0.1:${port}`);
    assert.match(await request(port), /^127\.0\.11\.[12]:ping$/);

    // Once the port is free, the retry moves the balancer there.
    await new Promise<void>((r) => squatter.close(() => r()));
    const moved = await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.listen === `127.0.0.1:${taken}`,
      within(),
    );
    assert.equal(moved?.spec.error, undefined);
    assert.match(await request(taken), /^127\.0\.11\.[12]:ping$/);

    await state.teardownAndDestroy(APIBalancerSpec.ptr(apiBalancerId));
    await state.waitFor(APIBalancerStatus.ptr(apiBalancerId), (r) => r === undefined, within());
    await assert.rejects(request(taken), /ECONNREFUSED/);
  });

  it("shows an upstream's death in the status without waiting for the refresh", async () => {
    const { state, ups } = await setup(60_000); // only the trigger can bring the news in time
    const [a, b] = ups as [TestUpstream, TestUpstream];
    const port = await freePort();
    await state.create(APIBalancerSpec.make(apiBalancerId, spec(port, [a.key, b.key])));
    await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.healthyUpstreams === 2,
      within(),
    );
    await b.kill();
    const after = await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.healthyUpstreams === 1,
      within(),
    );
    const dead = after?.spec.upstreams.find((u) => u.address === b.key);
    assert.equal(dead?.health, "unhealthy");
    assert.match(dead?.lastError ?? "", /refused/);
  });

  it("closes the balancer when the runtime stops", async () => {
    const { state, runtime, ups } = await setup();
    const port = await freePort();
    await state.create(APIBalancerSpec.make(apiBalancerId, spec(port, [ups[0]!.key])));
    await state.waitFor(
      APIBalancerStatus.ptr(apiBalancerId),
      (r) => r?.spec.healthyUpstreams === 1,
      within(),
    );
    await runtime.stop();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(request(port), /ECONNREFUSED/);
  });
});
