import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { doc, fixtures, yamlOf } from "../../../config/testing/fixtures.ts";
import { createDiscoveryServer, type DiscoveryServer } from "../../../discovery/server/discovery-server.ts";
import {
  type ControllerRuntime,
  createControllerRuntime,
} from "../../../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../../../runtime/resource/registry.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import { createMemoryState } from "../../../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../../../runtime/state/state.ts";
import { withValidation } from "../../../runtime/state/validating-state.ts";
import { eventually } from "../../../testing/eventually.ts";
import { storeConfig } from "../../config-store.ts";
import { NodeAddress } from "../../resources/address.ts";
import { Affiliate, DiscoveryStatus, discoveryStatusId, NodeIdentity } from "../../resources/affiliate.ts";
import { HostnameStatus, hostnameId } from "../../resources/hostname.ts";
import { ConfigRevision, MachineConfigResource } from "../../resources/machine-config.ts";
import { MeshIdentity, MeshSpec, meshIdentityId, meshSpecId } from "../../resources/mesh.ts";
import { createDiscoveryController, discoveryControllerName } from "./discovery-controller.ts";

/** The docs with a cluster id of their own (and optionally another secret): tests share one service. */
function inCluster(docs: unknown[], id: string, secret?: string): unknown[] {
  return docs.map((d) =>
    (d as { kind?: string }).kind === "ClusterConfig"
      ? { ...(d as object), id, ...(secret ? { secret } : {}) }
      : d,
  );
}

let clusterCounter = 0;
const newClusterId = () => `test-cluster-${process.pid}-${++clusterCounter}-${"x".repeat(16)}`;

const registry = createRegistry([
  MachineConfigResource,
  ConfigRevision,
  NodeAddress,
  HostnameStatus,
  NodeIdentity,
  Affiliate,
  DiscoveryStatus,
  MeshSpec,
  MeshIdentity,
]);

interface Machine {
  readonly state: State;
  readonly runtime: ControllerRuntime;
  configure(docs: unknown[]): Promise<void>;
  affiliates(): Promise<Resource<(typeof Affiliate)["schema"]["_output"]>[]>;
}

describe("discovery controller against a real discovery service", () => {
  let server: DiscoveryServer;
  let port: number;
  let machines: Machine[] = [];
  const discoveryDoc = (enabled = true) =>
    doc(
      `apiVersion: v1alpha1\nkind: Discovery\nenabled: ${enabled}\nendpoint: http://127.0.0.1:${port}\nttl: 1m\n`,
    );

  async function startServer(listenPort = 0): Promise<DiscoveryServer> {
    return createDiscoveryServer({
      listen: { host: "127.0.0.1", port: listenPort },
      rateLimit: null,
      version: "test",
    });
  }

  async function machine(name: string, address: string): Promise<Machine> {
    const state = wrapCore(withValidation(createMemoryState(), registry));
    const runtime = createControllerRuntime({ state });
    runtime.register(
      createDiscoveryController({
        mode: "local",
        version: "test",
        listenHost: address,
        trigger: () => runtime.trigger(discoveryControllerName),
        backoff: { initialMs: 50, maxMs: 200 },
      }),
    );
    await state.create(HostnameStatus.make(hostnameId, { hostname: name, managed: false }));
    await runtime.start();
    const m: Machine = {
      state,
      runtime,
      async configure(docs) {
        await storeConfig(state, { yaml: yamlOf(...docs), complete: true, mode: "auto", appliedBy: "test" });
      },
      affiliates: async () => (await state.list(Affiliate.kind())) as never,
    };
    machines.push(m);
    return m;
  }

  const hostnames = async (m: Machine) => (await m.affiliates()).map((a) => a.spec.hostname).sort();

  before(async () => {
    server = await startServer();
    port = server.port;
  });
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.runtime.stop()));
    machines = [];
  });
  after(() => server.close());

  it("three machines of a cluster find each other; their records open only with the cluster secret", async () => {
    const id = newClusterId();
    const worker = inCluster((await fixtures()).worker, id);
    const controlplane = inCluster((await fixtures()).controlplane, id);
    const [a, b, c] = await Promise.all([
      machine("node-a", "127.0.0.11"),
      machine("node-b", "127.0.0.12"),
      machine("node-c", "127.0.0.13"),
    ]);
    await a.configure([...controlplane, discoveryDoc()]);
    await b.configure([...worker, discoveryDoc()]);
    await c.configure([...worker, discoveryDoc()]);
    for (const [m, expected] of [
      [a, ["node-b", "node-c"]],
      [b, ["node-a", "node-c"]],
      [c, ["node-a", "node-b"]],
    ] as const) {
      await eventually(`${expected.join(", ")} as affiliates`, async () =>
        JSON.stringify(await hostnames(m)) === JSON.stringify(expected) ? true : undefined,
      );
    }
    const seenFromB = (await b.affiliates()).find((x) => x.spec.hostname === "node-a")!.spec;
    assert.deepEqual(
      { ...seenFromB, nodeId: "", operatingSystem: "" },
      {
        nodeId: "",
        hostname: "node-a",
        nodename: "node-a",
        machineType: "controlplane",
        operatingSystem: "",
        addresses: ["127.0.0.11"],
        endpoints: [],
        apiPort: 50000,
        source: "discovery",
        stale: false,
      },
    );
    const status = (await a.state.get(DiscoveryStatus.ptr(discoveryStatusId))).spec;
    assert.equal(status.connected, true);
    assert.equal(status.published, true);
    assert.equal(status.publicIp, "127.0.0.1");
    assert.equal(status.affiliates, 2);

    // What the server holds is ciphertext: no hostname appears in it.
    const stored = await server.store.list(id);
    assert.equal(stored.length, 3);
    for (const s of stored) assert.ok(!Buffer.from(s.data).toString("latin1").includes("node-"), "sealed");
  });

  it("publishes the mesh key, address, advertised networks and endpoints of an enabled mesh", async () => {
    const id = newClusterId();
    const worker = inCluster((await fixtures()).worker, id);
    const [a, b] = await Promise.all([machine("node-a", "127.0.0.11"), machine("node-b", "127.0.0.12")]);
    const meshSpec = {
      enabled: true,
      clusterId: id,
      mtu: 1420,
      port: 51820,
      allowDownPeerBypass: false,
      advertiseNetworks: ["192.168.10.0/24"],
      endpointFilters: [],
      extraEndpoints: ["203.0.113.7:4000"],
      presharedKey: Buffer.alloc(32, 1).toString("base64"),
    };
    const publicKey = Buffer.alloc(32, 2).toString("base64");
    await a.state.create(MeshSpec.make(meshSpecId, meshSpec));
    await a.state.create(
      MeshIdentity.make(meshIdentityId, {
        publicKey,
        address: "fd01:2:3:401::7",
        prefix: "fd01:2:3:401::/64",
      }),
    );
    await a.configure([...worker, discoveryDoc()]);
    await b.configure([...worker, discoveryDoc()]);
    const seen = await eventually("a's mesh facts on b", async () => {
      const x = (await b.affiliates()).find((r) => r.spec.hostname === "node-a");
      return x?.spec.mesh && x.spec.endpoints.length === 2 ? x.spec : undefined;
    });
    assert.deepEqual(seen.mesh, {
      publicKey,
      address: "fd01:2:3:401::7",
      additionalPrefixes: ["192.168.10.0/24"],
    });
    // The loopback listen address is no endpoint; the address the service saw and the extra one are.
    // (The service keeps a set of endpoints: their order is its own.)
    assert.deepEqual([...seen.endpoints].sort(), ["127.0.0.1:51820", "203.0.113.7:4000"]);
    const fromA = (await a.affiliates()).find((r) => r.spec.hostname === "node-b")!.spec;
    assert.equal(fromA.mesh, undefined, "b has no mesh");
    assert.deepEqual(fromA.endpoints, []);

    await a.state.modify(MeshSpec.ptr(meshSpecId), (d) => {
      d.spec.enabled = false;
    });
    await eventually("a's mesh facts gone", async () => {
      const x = (await b.affiliates()).find((r) => r.spec.hostname === "node-a");
      return x && !x.spec.mesh ? true : undefined;
    });
  });

  it("a machine with another cluster secret sees nobody, is seen by nobody, and counts what it could not open", async () => {
    const { secrets } = await fixtures();
    const id = newClusterId();
    const worker = inCluster((await fixtures()).worker, id);
    const [a, b, stranger] = await Promise.all([
      machine("node-a", "127.0.0.11"),
      machine("node-b", "127.0.0.12"),
      machine("stranger", "127.0.0.14"),
    ]);
    const otherSecret = Buffer.alloc(32, 7).toString("base64");
    const strangerDocs = inCluster(worker, id, otherSecret);
    assert.notEqual(otherSecret, secrets.cluster.secret);
    await a.configure([...worker, discoveryDoc()]);
    await b.configure([...worker, discoveryDoc()]);
    await stranger.configure([...strangerDocs, discoveryDoc()]);
    await eventually("the stranger's failed attempts", async () => {
      const s = (await stranger.state.find(DiscoveryStatus.ptr(discoveryStatusId)))?.spec;
      return s?.connected && s.undecryptable >= 2 ? s : undefined;
    });
    await eventually("a and b see each other", async () =>
      (await hostnames(a)).includes("node-b") && (await hostnames(b)).includes("node-a") ? true : undefined,
    );
    assert.deepEqual(await stranger.affiliates(), []);
    assert.deepEqual(await hostnames(a), ["node-b"]);
    const statusA = (await a.state.get(DiscoveryStatus.ptr(discoveryStatusId))).spec;
    assert.ok(statusA.undecryptable >= 1, "the stranger's record counted, not shown");
  });

  it("keeps the last known members, marked stale, while the service is down; reconnects and republishes", async () => {
    const id = newClusterId();
    const worker = inCluster((await fixtures()).worker, id);
    const [a, b] = await Promise.all([machine("node-a", "127.0.0.11"), machine("node-b", "127.0.0.12")]);
    await a.configure([...worker, discoveryDoc()]);
    await b.configure([...worker, discoveryDoc()]);
    await eventually("a sees b", async () => ((await hostnames(a)).includes("node-b") ? true : undefined));

    await server.close();
    try {
      const stale = await eventually("b marked stale on a", async () => {
        const [x] = await a.affiliates();
        return x?.spec.stale ? x : undefined;
      });
      assert.equal(stale.spec.hostname, "node-b", "the record is kept");
    } finally {
      server = await startServer(port); // a fresh server: it knows nothing until the clients publish again
    }
    await eventually("a sees b again, not stale", async () => {
      const [x] = await a.affiliates();
      return x && !x.spec.stale && x.spec.hostname === "node-b" ? true : undefined;
    });
    await eventually("b sees a again", async () =>
      (await hostnames(b)).includes("node-a") ? true : undefined,
    );
    assert.equal((await server.store.list(id)).length, 2);
  });

  it("drops its members, status and record at the service when discovery is disabled, keeping its node id", async () => {
    const id = newClusterId();
    const worker = inCluster((await fixtures()).worker, id);
    const [a, b] = await Promise.all([machine("node-a", "127.0.0.11"), machine("node-b", "127.0.0.12")]);
    await a.configure([...worker, discoveryDoc()]);
    await b.configure([...worker, discoveryDoc()]);
    await eventually("a sees b", async () => ((await hostnames(a)).includes("node-b") ? true : undefined));
    const [identity] = await a.state.list(NodeIdentity.kind());
    await a.configure([...worker, discoveryDoc(false)]);
    await eventually("no affiliates on a", async () =>
      (await a.affiliates()).length === 0 ? true : undefined,
    );
    assert.equal(await a.state.find(DiscoveryStatus.ptr(discoveryStatusId)), undefined);
    const [kept] = await a.state.list(NodeIdentity.kind());
    assert.deepEqual(kept?.spec, identity?.spec);
    const nodeId = (identity!.spec as { nodeId: string }).nodeId;
    await eventually("a's record gone from the service", async () =>
      (await server.store.list(id)).some((r) => r.id === nodeId) ? undefined : true,
    );
    assert.equal((await server.store.list(id)).length, 1, "b's record stays");
  });
});
