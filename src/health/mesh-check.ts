import type { Client } from "@connectrpc/connect";
import type { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../api/resource-wire.ts";

/** What the check needs of a node (a HealthNode has it). */
interface MeshCheckNode {
  readonly address: string;
  readonly resources: Client<typeof ResourceService>;
}

interface MeshStatusSpec {
  enabled: boolean;
  link: boolean;
  peers: number;
  peersUp: number;
  error?: string;
}

interface MeshPeerStatusSpec {
  hostname: string;
  endpoint: string;
  state: string;
}

async function meshSpecs<S>(node: MeshCheckNode, type: string, signal: AbortSignal): Promise<S[]> {
  const res = await node.resources.list({ namespace: "mesh", type }, { signal });
  return (res.messages[0]?.resources ?? []).map((r) => resourceFromWire(r).spec as S);
}

/**
 * Every node with an enabled mesh has its link up and every mesh peer up, and sees at least the
 * other checked nodes with an enabled mesh as peers. Passes at once when no node runs a mesh.
 */
export const meshPeersCheck = {
  name: "all mesh peers up",
  async run(
    nodes: readonly MeshCheckNode[],
    signal: AbortSignal,
  ): Promise<{ readonly ok: boolean; readonly detail: string }> {
    const seen = await Promise.all(
      nodes.map(async (node) => {
        try {
          const [status] = await meshSpecs<MeshStatusSpec>(node, "MeshStatus", signal);
          if (!status?.enabled) return { node };
          const peers = await meshSpecs<MeshPeerStatusSpec>(node, "MeshPeerStatus", signal);
          return { node, status, peers };
        } catch (err) {
          return { node, error: (err as Error).message };
        }
      }),
    );
    const meshed = seen.filter((s) => s.status || s.error);
    if (meshed.length === 0) return { ok: true, detail: "the mesh is not enabled" };
    const failures = meshed.flatMap((s) => {
      const at = s.node.address;
      if (s.error) return [`${at}: ${s.error}`];
      if (!s.status!.link)
        return [`${at}: mesh link not ready${s.status!.error ? ` (${s.status!.error})` : ""}`];
      const down = s.peers!.filter((p) => p.state !== "up");
      return [
        ...down.map((p) => `${at}: peer ${p.hostname} is ${p.state}${p.endpoint ? ` at ${p.endpoint}` : ""}`),
        ...(s.peers!.length < meshed.length - 1
          ? [`${at}: ${s.peers!.length} mesh peers, expected at least ${meshed.length - 1}`]
          : []),
      ];
    });
    const up = meshed.reduce((n, s) => n + (s.peers?.filter((p) => p.state === "up").length ?? 0), 0);
    return failures.length === 0
      ? { ok: true, detail: `${meshed.length} nodes, ${up} peer links up` }
      : { ok: false, detail: failures.join("; ") };
  },
};
