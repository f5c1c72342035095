import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { buildPeerSpecs } from "../../mesh/peer-specs.ts";
import { NodeAddress } from "../../resources/address.ts";
import { Affiliate } from "../../resources/affiliate.ts";
import { MeshIdentity, MeshPeerSpec, MeshSpec, meshIdentityId, meshSpecId } from "../../resources/mesh.ts";

/**
 * One MeshPeerSpec per `Affiliate` that announces a mesh key, while the mesh is enabled: allowed
 * IPs (overlaps between peers resolved the same way on every node), endpoints to try.
 */
export function createMeshPeerSpecController(): Controller {
  return {
    name: "MeshPeerSpecController",
    inputs: [
      { namespace: Affiliate.namespace, type: Affiliate.type, kind: "weak" },
      { namespace: MeshSpec.namespace, type: MeshSpec.type, id: meshSpecId, kind: "weak" },
      { namespace: MeshIdentity.namespace, type: MeshIdentity.type, id: meshIdentityId, kind: "weak" },
      { namespace: NodeAddress.namespace, type: NodeAddress.type, id: "current", kind: "weak" },
    ],
    outputs: [{ type: MeshPeerSpec.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const out = ctx.track(MeshPeerSpec.kind());
      const spec = (await ctx.find(MeshSpec.ptr(meshSpecId)))?.spec;
      const identity = (await ctx.find(MeshIdentity.ptr(meshIdentityId)))?.spec;
      if (spec?.enabled && identity) {
        const affiliates = new Map(
          (await ctx.list(Affiliate.kind())).map((r) => [r.metadata.id, r.spec as SpecOf<typeof Affiliate>]),
        );
        const own = (await ctx.find(NodeAddress.ptr("current")))?.spec.addresses ?? [];
        const peers = buildPeerSpecs(affiliates, {
          publicKey: identity.publicKey,
          ownPrefixes: [identity.address, ...own.map((a) => a.split("/")[0]!)],
        });
        for (const [id, peer] of peers) await out.apply(MeshPeerSpec.make(id, peer));
      }
      await out.cleanup();
    },
  };
}
