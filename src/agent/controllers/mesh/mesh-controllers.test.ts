import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { doc, fixtures, yamlOf } from "../../../config/testing/fixtures.ts";
import { meshAddress, meshPrefix, meshPresharedKey, meshPublicKey } from "../../../mesh/index.ts";
import { createControllerRuntime } from "../../../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../../../runtime/resource/registry.ts";
import { createSqliteState } from "../../../runtime/state/backends/sqlite/sqlite-state.ts";
import { type State, wrapCore } from "../../../runtime/state/state.ts";
import { withValidation } from "../../../runtime/state/validating-state.ts";
import { eventually } from "../../../testing/eventually.ts";
import { storeConfig } from "../../config-store.ts";
import { NodeAddress } from "../../resources/address.ts";
import { Affiliate } from "../../resources/affiliate.ts";
import { ConfigRevision, MachineConfigResource } from "../../resources/machine-config.ts";
import {
  MeshIdentity,
  MeshPeerSpec,
  MeshPrivateKey,
  MeshSpec,
  meshIdentityId,
  meshPrivateKeyId,
  meshSpecId,
} from "../../resources/mesh.ts";
import { createMeshConfigController } from "./mesh-config-controller.ts";
import { createMeshIdentityController } from "./mesh-identity-controller.ts";
import { createMeshPeerSpecController } from "./mesh-peer-spec-controller.ts";

const registry = createRegistry([
  MachineConfigResource,
  ConfigRevision,
  NodeAddress,
  Affiliate,
  MeshIdentity,
  MeshPrivateKey,
  MeshSpec,
  MeshPeerSpec,
]);

/** An enabled mesh needs an enabled Discovery document. */
const discovery = doc("apiVersion: v1alpha1\nkind: Discovery\nendpoint: http://127.0.0.1:3000\n");

async function configure(state: State, docs: unknown[]): Promise<void> {
  await storeConfig(state, {
    yaml: yamlOf(...docs, discovery),
    complete: true,
    mode: "auto",
    appliedBy: "test",
  });
}

/** One boot of an agent's mesh config controllers on a durable state. */
async function boot(path: string) {
  const state = wrapCore(withValidation(createSqliteState({ path }), registry));
  const runtime = createControllerRuntime({ state });
  runtime.register(
    createMeshIdentityController({ mode: "netns" }),
    createMeshConfigController({ mode: "netns" }),
    createMeshPeerSpecController(),
  );
  await runtime.start();
  return {
    state,
    async stop() {
      await runtime.stop();
      await state.close();
    },
  };
}

describe("mesh config controllers", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-mesh-controllers-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("generate the key once, keep it across restarts, and derive the address from it", async () => {
    const { worker, secrets } = await fixtures();
    const path = join(dir, "identity.db");
    const first = await boot(path);
    await configure(first.state, [...worker, doc("apiVersion: v1alpha1\nkind: Mesh\n")]);
    const identity = await eventually("MeshIdentity", () =>
      first.state.find(MeshIdentity.ptr(meshIdentityId)),
    );
    const key = (await first.state.get(MeshPrivateKey.ptr(meshPrivateKeyId))).spec.privateKey;
    const clusterId = secrets.cluster.id;
    assert.deepEqual(identity.spec, {
      publicKey: meshPublicKey(key),
      address: meshAddress(clusterId, meshPublicKey(key)),
      prefix: meshPrefix(clusterId),
    });
    await first.stop();

    const second = await boot(path);
    try {
      await eventually("the same identity after a restart", async () => {
        const again = await second.state.find(MeshIdentity.ptr(meshIdentityId));
        return again && again.metadata.version >= identity.metadata.version ? again : undefined;
      });
      assert.equal((await second.state.get(MeshPrivateKey.ptr(meshPrivateKeyId))).spec.privateKey, key);
      assert.equal(
        (await second.state.get(MeshIdentity.ptr(meshIdentityId))).spec.publicKey,
        meshPublicKey(key),
      );
      // Without a Mesh document: no identity, but the key stays for a mesh turned on again.
      await configure(second.state, [...worker]);
      await eventually("no MeshIdentity", async () =>
        (await second.state.find(MeshIdentity.ptr(meshIdentityId))) ? undefined : true,
      );
      assert.equal((await second.state.get(MeshPrivateKey.ptr(meshPrivateKeyId))).spec.privateKey, key);
    } finally {
      await second.stop();
    }
  });

  it("MeshSpec from the documents, the PSK from the cluster secret; peers from affiliates with a mesh key", async () => {
    const { worker, secrets } = await fixtures();
    const node = await boot(join(dir, "spec.db"));
    try {
      await configure(node.state, [
        ...worker,
        doc(
          "apiVersion: v1alpha1\nkind: Mesh\nmtu: 1380\nport: 51999\nallowDownPeerBypass: true\nadvertiseNetworks: [192.168.5.0/24]\nfilters: {endpoints: ['!10.0.0.0/8']}\n",
        ),
      ]);
      const spec = await eventually("MeshSpec", () => node.state.find(MeshSpec.ptr(meshSpecId)));
      assert.deepEqual(spec.spec, {
        enabled: true,
        clusterId: secrets.cluster.id,
        mtu: 1380,
        port: 51999,
        allowDownPeerBypass: true,
        advertiseNetworks: ["192.168.5.0/24"],
        endpointFilters: ["!10.0.0.0/8"],
        extraEndpoints: [],
        presharedKey: meshPresharedKey(secrets.cluster.secret),
      });
      await node.state.create(NodeAddress.make("current", { addresses: ["10.0.0.1/24"] }));
      const affiliate = (nodeId: string, key?: string) =>
        Affiliate.make(nodeId, {
          nodeId,
          hostname: nodeId,
          nodename: nodeId,
          machineType: "worker",
          operatingSystem: "Debian",
          addresses: ["10.0.0.1", "10.0.0.2"],
          endpoints: ["10.0.0.2:51999"],
          ...(key ? { mesh: { publicKey: key, address: "fd00::2", additionalPrefixes: [] } } : {}),
          source: "discovery",
          stale: false,
        });
      const key = Buffer.alloc(32, 5).toString("base64");
      await node.state.create(affiliate("peer-1", key));
      await node.state.create(affiliate("no-mesh"));
      const peer = await eventually("MeshPeerSpec", () => node.state.find(MeshPeerSpec.ptr("peer-1")));
      // 10.0.0.1 is this node's own address: never routed to a peer.
      assert.deepEqual(peer.spec.allowedIps, ["fd00::2/128", "10.0.0.2/32"]);
      assert.equal(await node.state.find(MeshPeerSpec.ptr("no-mesh")), undefined);

      await configure(node.state, [...worker, doc("apiVersion: v1alpha1\nkind: Mesh\nenabled: false\n")]);
      await eventually("no peer specs when the mesh is off", async () =>
        (await node.state.list(MeshPeerSpec.kind())).length === 0 ? true : undefined,
      );
      assert.equal((await node.state.get(MeshSpec.ptr(meshSpecId))).spec.enabled, false);
    } finally {
      await node.stop();
    }
  });
});
