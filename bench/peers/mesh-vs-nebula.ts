// Comparison 3: Plinth's mesh against Nebula (control plane: three nodes on one bridge until every
// node pings every other over the overlay) and against a WireGuard link set by hand (data plane:
// iperf3, 10 s, 1 stream, between two nodes).
import { nebulaConverge } from "./nebula-mesh.ts";
import { plinthMesh } from "./plinth-mesh.ts";
import type { Comparison } from "./summary.ts";
import { handWireGuardThroughput, iperfSeconds } from "./wireguard-link.ts";

const notes = [
  "3 nodes in namespaces on one bridge each side; a pair counts once it got a ping answer over the overlay",
  "(each pair pings on its own once both ends have their overlay address, 0.1 s wait per ping)",
  "Plinth's clock starts with the agent processes (Node start-up, state, key, publish to and watch the",
  "discovery service, then link and peers); Nebula's with its daemons, the lighthouse's address given in",
  "each config; both use their defaults, Nebula's firewall opened for ping",
  "where Plinth's time goes (PLINTH_BENCH_MESH_TRACE=<dir> keeps the agents' logs for a timeline): the",
  "agent process until its config is loaded (0.4-1.4 s with the load), then ~0.5 s to identity, discovery,",
  "wireguard-go, link and peers; every pair answers within ~0.1 s of the last node setting its peers",
  `data plane: iperf3 ${iperfSeconds} s, 1 stream, MTU 1420 on both links; Plinth between two nodes'`,
  "IPv6 mesh addresses as its agents set them up, the other across a link set with wg and ip alone;",
  "Plinth's three agents keep running meanwhile: wireguard-go is CPU-bound, what else runs takes from it",
];
const implementations = new Set<string>();

export const meshVsNebula: Comparison = {
  title: "mesh vs Nebula and a hand-set WireGuard link",
  figures: [
    {
      key: "plinthMeshConvergeMs",
      label: "Plinth: agents start → every node pings every other",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "plinthMeshLinksMs",
      label: "of Plinth's: until every node has its mesh link and address",
      unit: "ms",
      digits: 0,
      json: false,
    },
    { key: "nebulaConvergeMs", label: "Nebula: daemons start → the same", unit: "ms", digits: 0, json: true },
    {
      key: "meshConvergeOverNebula",
      label: "Plinth / Nebula",
      unit: "×",
      digits: 2,
      goal: { value: 1, higherIsBetter: false },
      json: true,
    },
    {
      key: "plinthMeshMbps",
      label: "iperf3 over Plinth's WireGuard link",
      unit: "Mbit/s",
      digits: 0,
      json: false,
    },
    {
      key: "handWireGuardMbps",
      label: "iperf3 over a link set by hand",
      unit: "Mbit/s",
      digits: 0,
      json: false,
    },
    {
      key: "meshThroughputRatio",
      label: "Plinth / by hand",
      unit: "×",
      digits: 2,
      goal: { value: 0.95, higherIsBetter: true },
      json: true,
    },
  ],
  get notes() {
    const impl = [...implementations].join(" and ");
    return impl ? [...notes, `WireGuard implementation on this machine: ${impl} (both links)`] : notes;
  },
  async run() {
    const nebulaConvergeMs = await nebulaConverge();
    const hand = await handWireGuardThroughput();
    implementations.add(
      hand.implementation === "kernel" ? "the kernel module" : "wireguard-go (no kernel module)",
    );
    const plinth = await plinthMesh();
    return {
      plinthMeshConvergeMs: plinth.convergeMs,
      plinthMeshLinksMs: plinth.linksMs,
      nebulaConvergeMs,
      meshConvergeOverNebula: plinth.convergeMs / nebulaConvergeMs,
      plinthMeshMbps: plinth.bitsPerSec / 1e6,
      handWireGuardMbps: hand.bitsPerSec / 1e6,
      meshThroughputRatio: plinth.bitsPerSec / hand.bitsPerSec,
    };
  },
};
