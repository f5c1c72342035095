import type { SpecOf } from "../runtime/resource/definition.ts";
import type { State } from "../runtime/state/state.ts";
import { Affiliate, MachineStatus, machineStatusId, NodeAddress } from "./resources/index.ts";

const bare = (address: string) => address.split("/")[0]!;
const wildcard = new Set(["0.0.0.0", "::", ""]);

/**
 * The cluster's nodes as this machine knows them, for a health check that names none: itself
 * and every affiliate (from discovery), each by its first address, split by machine type.
 */
export async function clusterNodes(
  state: State,
  listenHost: string,
): Promise<{ controlPlanes: string[]; workers: string[] }> {
  const controlPlanes: string[] = [];
  const workers: string[] = [];
  const self =
    (wildcard.has(listenHost) ? undefined : listenHost) ??
    (await state.find(NodeAddress.ptr("default")))?.spec.addresses.map(bare)[0] ??
    "127.0.0.1";
  const selfType = (await state.find(MachineStatus.ptr(machineStatusId)))?.spec.machineType;
  (selfType === "controlplane" ? controlPlanes : workers).push(self);
  for (const r of await state.list(Affiliate.kind())) {
    const a = r.spec as SpecOf<typeof Affiliate>;
    const address = a.addresses.map(bare)[0];
    if (!address || address === self) continue;
    (a.machineType === "controlplane" ? controlPlanes : workers).push(address);
  }
  return { controlPlanes, workers };
}
