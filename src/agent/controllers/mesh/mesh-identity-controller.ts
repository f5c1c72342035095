import type { ValidationMode } from "../../../config/checks/check-context.ts";
import { generateMeshKeyPair, meshAddress, meshPrefix, meshPublicKey } from "../../../mesh/index.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { parsedConfig } from "../../parsed-config.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/machine-config.ts";
import { MeshIdentity, MeshPrivateKey, meshIdentityId, meshPrivateKeyId } from "../../resources/mesh.ts";

/**
 * This node's mesh identity. The key pair is generated once and kept in the durable state (a
 * private resource: the API serves it to no one) until the machine is reset. The mesh address
 * is the cluster's mesh /64 with a host part derived from the public key: stable across restarts,
 * unique per node, and needing nothing but the key and the cluster id.
 */
export function createMeshIdentityController(options: { readonly mode: ValidationMode }): Controller {
  /** The identity last logged, to log it once per change. */
  let logged = "";
  return {
    name: "MeshIdentityController",
    inputs: [{ namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" }],
    outputs: [
      { type: MeshPrivateKey.type, kind: "exclusive" },
      { type: MeshIdentity.type, kind: "exclusive" },
    ],
    async reconcile(ctx) {
      const keys = ctx.track(MeshPrivateKey.kind());
      const identities = ctx.track(MeshIdentity.kind());
      const record = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      const config = record?.spec.complete ? parsedConfig(record.spec.yaml, options.mode) : undefined;
      const cluster = config?.find("ClusterConfig");
      if (!config?.find("Mesh") || !cluster) {
        // No mesh asked for: keep the key (a mesh turned on again keeps its identity), drop the rest.
        const kept = await ctx.find(MeshPrivateKey.ptr(meshPrivateKeyId));
        if (kept) await keys.apply(MeshPrivateKey.make(meshPrivateKeyId, kept.spec));
        await keys.cleanup();
        await identities.cleanup();
        return;
      }
      const privateKey =
        (await ctx.find(MeshPrivateKey.ptr(meshPrivateKeyId)))?.spec.privateKey ??
        generateMeshKeyPair().privateKey;
      await keys.apply(MeshPrivateKey.make(meshPrivateKeyId, { privateKey }));
      const publicKey = meshPublicKey(privateKey);
      const address = meshAddress(cluster.id, publicKey);
      await identities.apply(
        MeshIdentity.make(meshIdentityId, { publicKey, address, prefix: meshPrefix(cluster.id) }),
      );
      if (logged !== `${publicKey} ${address}`) {
        logged = `${publicKey} ${address}`;
        ctx.log.debug({ publicKey, address }, "mesh identity ready");
      }
      await keys.cleanup();
      await identities.cleanup();
    },
  };
}
