import { createHash } from "node:crypto";
import { disjointCidrs, formatCidr } from "./cidr.ts";
import { MESH_NFT_TABLE, MESH_STEERING_MARK } from "./defaults.ts";

/** What nft-render needs of MeshRoutingConfig (kept here to avoid an import cycle). @internal */
export interface MeshNftConfig {
  readonly linkName: string;
  readonly fwmark: number;
  readonly steeringMark?: number;
  readonly destinations: readonly string[];
  readonly bypass: readonly string[];
  readonly mtu: number;
}

/** Elements of the four named sets, canonical "addr/len", sorted. @internal */
export interface SteeringSets {
  readonly steer4: readonly string[];
  readonly steer6: readonly string[];
  readonly bypass4: readonly string[];
  readonly bypass6: readonly string[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const T = `inet ${MESH_NFT_TABLE}`;

/** @internal */
export function steeringSets(cfg: MeshNftConfig): SteeringSets {
  const split = (list: readonly string[], field: string, family: 4 | 6): string[] =>
    disjointCidrs(list, field)
      .filter((c) => c.family === family)
      .map(formatCidr);
  return {
    steer4: split(cfg.destinations, "destinations", 4),
    steer6: split(cfg.destinations, "destinations", 6),
    bypass4: split(cfg.bypass, "bypass", 4),
    bypass6: split(cfg.bypass, "bypass", 6),
  };
}

function chains(cfg: MeshNftConfig): { name: string; hook?: string; rules: string[] }[] {
  const steer = hex(cfg.steeringMark ?? MESH_STEERING_MARK);
  const link = JSON.stringify(cfg.linkName);
  const syn = "tcp flags & (syn | rst) == syn";
  const mss4 = cfg.mtu - 40;
  const mss6 = cfg.mtu - 60;
  return [
    {
      name: "steer",
      rules: [
        "ip daddr @bypass4 return",
        "ip6 daddr @bypass6 return",
        `ip daddr @steer4 meta mark set meta mark | ${steer}`,
        `ip6 daddr @steer6 meta mark set meta mark | ${steer}`,
      ],
    },
    // Forwarded traffic (advertised networks behind this node); what came in over the mesh is not sent back into it.
    {
      name: "prerouting",
      hook: "type filter hook prerouting priority mangle",
      rules: [`iifname ${link} return`, "jump steer"],
    },
    // Local traffic; a `route` chain re-routes a packet whose mark changed. WireGuard's own packets carry fwmark.
    {
      name: "output",
      hook: "type route hook output priority mangle",
      rules: [`meta mark & ${hex(cfg.fwmark)} == ${hex(cfg.fwmark)} return`, "jump steer"],
    },
    {
      name: "mss",
      hook: "type filter hook postrouting priority mangle",
      rules: [
        `oifname ${link} meta nfproto ipv4 ${syn} tcp option maxseg size > ${mss4} tcp option maxseg size set ${mss4}`,
        `oifname ${link} meta nfproto ipv6 ${syn} tcp option maxseg size > ${mss6} tcp option maxseg size set ${mss6}`,
      ],
    },
  ];
}

/**
 * The table's identity: a hash of what shapes its rules, and the rule count per chain as
 * `nft -j` lists them. Stored as the comment of the table's first rule. @internal
 */
export function tableFingerprint(cfg: MeshNftConfig, steeringMark: number): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([cfg.linkName, cfg.fwmark, steeringMark, cfg.mtu]))
    .digest("hex")
    .slice(0, 12);
  const counts = chains(cfg)
    .map((c) => `${c.name}=${c.rules.length}`)
    .sort()
    .join(",");
  return `plinth mesh ${hash} ${counts}`;
}

/** The whole `inet plinth_mesh` table as an `nft -f` script (sets filled). */
export function renderMeshNftables(cfg: MeshNftConfig): string {
  const sets = steeringSets(cfg);
  const fingerprint = JSON.stringify(tableFingerprint(cfg, cfg.steeringMark ?? MESH_STEERING_MARK));
  const lines = [`table ${T} {`];
  for (const [name, elems] of Object.entries(sets) as [string, string[]][]) {
    const type = name.endsWith("4") ? "ipv4_addr" : "ipv6_addr";
    const elements = elems.length > 0 ? ` elements = { ${elems.join(", ")} };` : "";
    lines.push(`  set ${name} { type ${type}; flags interval;${elements} }`);
  }
  for (const c of chains(cfg)) {
    lines.push(`  chain ${c.name} {`);
    if (c.hook) lines.push(`    ${c.hook}; policy accept;`);
    // The fingerprint rides on the first rule as its comment (`nft -j` shows rule comments, not table ones).
    c.rules.forEach((r, i) => {
      lines.push(`    ${r}${c.name === "steer" && i === 0 ? ` comment ${fingerprint}` : ""}`);
    });
    lines.push("  }");
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** One atomic transaction replacing the four sets' elements, chains untouched. @internal */
export function renderSetUpdate(sets: SteeringSets): string {
  const lines: string[] = [];
  for (const [name, elems] of Object.entries(sets) as [string, string[]][]) {
    lines.push(`flush set ${T} ${name}`);
    if (elems.length > 0) lines.push(`add element ${T} ${name} { ${elems.join(", ")} }`);
  }
  return `${lines.join("\n")}\n`;
}
