import type { ConfigBundle } from "../../config/config-bundle.ts";
import { meshPresharedKey } from "../../mesh/index.ts";
import type { SpecOf } from "../../runtime/resource/definition.ts";
import type { MeshSpec } from "../resources/mesh.ts";

export type MeshSpecValue = SpecOf<typeof MeshSpec>;

/**
 * The `Mesh` and `ClusterConfig` documents → what the mesh of this node should be; undefined when
 * there is no `Mesh` document or no cluster. A disabled mesh is a spec too, so that what it left
 * behind is removed.
 */
export function meshSpecFromConfig(config: ConfigBundle): MeshSpecValue | undefined {
  const mesh = config.find("Mesh");
  const cluster = config.find("ClusterConfig");
  if (!mesh || !cluster) return undefined;
  return {
    enabled: mesh.enabled,
    clusterId: cluster.id,
    mtu: mesh.mtu,
    port: mesh.port,
    allowDownPeerBypass: mesh.allowDownPeerBypass,
    advertiseNetworks: [...mesh.advertiseNetworks],
    endpointFilters: [...mesh.filters.endpoints],
    extraEndpoints: [...mesh.extraEndpoints],
    presharedKey: meshPresharedKey(cluster.secret),
  };
}
