import type { Host } from "../agent/host/host.ts";
import { disjointCidrs, formatCidr } from "./cidr.ts";
import { MESH_NFT_TABLE, MESH_STEERING_MARK } from "./defaults.ts";
import {
  renderMeshNftables,
  renderSetUpdate,
  type SteeringSets,
  steeringSets,
  tableFingerprint,
} from "./nft-render.ts";
import { forgetDesiredEndpoints } from "./peers.ts";
import { requireInteger, requireLinkName, runChecked } from "./run-checked.ts";

export { renderMeshNftables } from "./nft-render.ts";

export interface MeshRoutingConfig {
  readonly linkName: string;
  /** WireGuard's own mark (the link's fwmark): packets carrying all its bits are never steered. */
  readonly fwmark: number;
  /** Mark nftables sets on steered packets; default MESH_STEERING_MARK. Must share no bit with `fwmark`. */
  readonly steeringMark?: number;
  /** Dedicated routing table, e.g. 180. */
  readonly table: number;
  readonly rulePriority: number;
  /** Prefixes steered into the mesh (peers' node addresses, advertised networks, the mesh /64). */
  readonly destinations: readonly string[];
  /** Destinations not steered (down peers with allowDownPeerBypass): they take the normal route. */
  readonly bypass: readonly string[];
  /** MTU of the mesh link: TCP MSS is clamped to it. */
  readonly mtu: number;
}

interface IpRule {
  readonly priority: number;
  readonly table?: string;
  readonly fwmark?: string;
  readonly fwmask?: string;
  readonly src?: string;
}

/**
 * Steers `destinations` into the mesh without touching existing routes:
 * - nftables table `inet plinth_mesh` (the only table touched) marks packets to the steered sets
 *   with the steering mark, except WireGuard's own (they carry `fwmark`), packets that came in
 *   over the mesh, and `bypass` destinations; and clamps TCP MSS on the mesh link;
 * - `ip rule` (v4 and v6): steering mark → `table`; the table holds default routes via the link,
 *   so which peer gets a packet is decided by WireGuard's allowed IPs.
 * The table is created once; later calls only replace the sets' elements (one atomic nft
 * transaction), unless its rules drifted from what this config renders, which recreates it.
 * Limitation: a locally sent packet needs some route in the main table (a default route
 * suffices) for the kernel to let it reach the marking hook.
 */
export async function applyMeshRouting(host: Host, cfg: MeshRoutingConfig): Promise<void> {
  const steering = validateRouting(cfg);
  const sets = steeringSets(cfg);
  const nftables = async () => {
    const current = await readNftTable(host);
    if (current?.fingerprint === tableFingerprint(cfg, steering)) {
      if (!sameSets(current.sets, sets))
        await runChecked(host, "nft", ["-f", "-"], { input: renderSetUpdate(sets) });
    } else {
      const script = `${current ? `delete table inet ${MESH_NFT_TABLE}\n` : ""}${renderMeshNftables(cfg)}`;
      await runChecked(host, "nft", ["-f", "-"], { input: script });
    }
  };
  const family = async (family: "-4" | "-6") => {
    await runChecked(host, "ip", [
      family,
      "route",
      "replace",
      "default",
      "dev",
      cfg.linkName,
      "table",
      String(cfg.table),
    ]);
    await ensureRule(host, family, cfg, steering);
  };
  // The marks, the table's routes and the rules work in any order (a mark without its rule, or a
  // rule without its route, leaves packets on the normal route), so they are set side by side:
  // three rounds of processes instead of eight.
  await Promise.all([nftables(), family("-4"), family("-6")]);
}

/**
 * Removes the mesh: the nft table, every `ip rule` pointing at `table`, the table's routes and
 * the link (wireguard-go exits when its link goes). Missing pieces are fine, so it also cleans up
 * after a crash. Afterwards `ip rule`, `nft list ruleset` and `ip link` are as before the mesh.
 */
export async function removeMesh(
  host: Host,
  names: { linkName: string; table: number; fwmark: number },
): Promise<void> {
  requireLinkName(names.linkName, "linkName");
  requireInteger(names.table, "table", 1, 0xfffffffe);
  if ((await host.run("nft", ["list", "table", "inet", MESH_NFT_TABLE])).code === 0) {
    await runChecked(host, "nft", ["delete", "table", "inet", MESH_NFT_TABLE]);
  }
  for (const family of ["-4", "-6"] as const) {
    for (const rule of await readRules(host, family)) {
      if (rule.table === String(names.table)) {
        await runChecked(host, "ip", [
          family,
          "rule",
          "del",
          "priority",
          String(rule.priority),
          "table",
          String(names.table),
        ]);
      }
    }
    // A table that never held a route does not exist at all: nothing to flush.
    const routes = await host
      .ipJson<unknown[]>([family, "route", "show", "table", String(names.table)])
      .catch((err: Error) => {
        if (/FIB table does not exist/.test(err.message)) return [];
        throw err;
      });
    if (routes.length > 0)
      await runChecked(host, "ip", [family, "route", "flush", "table", String(names.table)]);
  }
  if ((await host.run("ip", ["link", "show", "dev", names.linkName])).code === 0) {
    await runChecked(host, "ip", ["link", "del", "dev", names.linkName]);
  }
  forgetDesiredEndpoints(host, names.linkName);
}

async function ensureRule(
  host: Host,
  family: "-4" | "-6",
  cfg: MeshRoutingConfig,
  steering: number,
): Promise<void> {
  const mark = `0x${steering.toString(16)}`;
  let present = false;
  for (const r of await readRules(host, family)) {
    if (r.table !== String(cfg.table)) continue;
    const exact = r.priority === cfg.rulePriority && r.fwmark === mark && r.fwmask === mark && !r.src;
    if (exact && !present) present = true;
    else
      await runChecked(host, "ip", [
        family,
        "rule",
        "del",
        "priority",
        String(r.priority),
        "table",
        String(cfg.table),
      ]);
  }
  if (!present) {
    const args = ["rule", "add", "priority", String(cfg.rulePriority), "fwmark", `${mark}/${mark}`];
    await runChecked(host, "ip", [family, ...args, "table", String(cfg.table)]);
  }
}

async function readRules(host: Host, family: "-4" | "-6"): Promise<IpRule[]> {
  const rules = await host.ipJson<IpRule[]>([family, "rule", "show"]);
  // `ip -j rule` omits the mask when it is all ones and prints both in hex.
  return rules.map((r) => ({
    ...r,
    table: r.table === undefined ? undefined : String(r.table),
    fwmask: r.fwmask ?? (r.fwmark ? "0xffffffff" : undefined),
  }));
}

interface NftTableState {
  readonly fingerprint?: string;
  readonly sets: SteeringSets;
}

async function readNftTable(host: Host): Promise<NftTableState | undefined> {
  const r = await host.run("nft", ["-j", "list", "table", "inet", MESH_NFT_TABLE]);
  if (r.code !== 0) return undefined;
  const items = (JSON.parse(r.stdout) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  const sets: Record<string, string[]> = {};
  const rulesPerChain: Record<string, number> = {};
  let comment: string | undefined;
  for (const item of items) {
    if (item.set)
      sets[item.set.name as string] = ((item.set.elem as unknown[] | undefined) ?? []).map(nftElement);
    if (item.rule?.comment && item.rule.chain === "steer") comment ??= item.rule.comment as string;
    if (item.rule)
      rulesPerChain[item.rule.chain as string] = (rulesPerChain[item.rule.chain as string] ?? 0) + 1;
  }
  // The first rule's comment holds the fingerprint of the rules it was created with, plus the rule counts; a
  // deleted or added rule changes the counts, so drift is seen and repaired.
  const counts = Object.keys(rulesPerChain)
    .sort()
    .map((c) => `${c}=${rulesPerChain[c]}`)
    .join(",");
  const fingerprint =
    comment?.startsWith("plinth mesh ") && comment.endsWith(` ${counts}`) ? comment : undefined;
  return {
    fingerprint,
    sets: {
      steer4: sets.steer4 ?? [],
      steer6: sets.steer6 ?? [],
      bypass4: sets.bypass4 ?? [],
      bypass6: sets.bypass6 ?? [],
    },
  };
}

function nftElement(e: unknown): string {
  if (typeof e === "string") return e.includes(":") ? `${e}/128` : `${e}/32`;
  const p = (e as { prefix?: { addr: string; len: number } }).prefix;
  if (p) return `${p.addr}/${p.len}`;
  return JSON.stringify(e); // a range: never equal to a desired prefix, so the set is rewritten
}

function sameSets(a: SteeringSets, b: SteeringSets): boolean {
  return (Object.keys(b) as (keyof SteeringSets)[]).every(
    (k) => a[k].length === b[k].length && a[k].every((x, i) => x === b[k][i]),
  );
}

function validateRouting(cfg: MeshRoutingConfig): number {
  requireLinkName(cfg.linkName, "linkName");
  requireInteger(cfg.fwmark, "fwmark", 1, 0xffffffff);
  const steering = cfg.steeringMark ?? MESH_STEERING_MARK;
  requireInteger(steering, "steeringMark", 1, 0xffffffff);
  if ((steering & cfg.fwmark) !== 0) {
    throw new RangeError(
      `'steeringMark' must share no bit with 'fwmark', current values are 0x${steering.toString(16)} and 0x${cfg.fwmark.toString(16)}`,
    );
  }
  requireInteger(cfg.table, "table", 1, 0xfffffffe);
  if ([253, 254, 255].includes(cfg.table))
    throw new RangeError(
      `'table' must not be a system table (default, main, local), current value is ${cfg.table}`,
    );
  requireInteger(cfg.rulePriority, "rulePriority", 1, 32765);
  requireInteger(cfg.mtu, "mtu", 1280, 65535);
  for (const k of ["destinations", "bypass"] as const) {
    if (!Array.isArray(cfg[k])) throw new TypeError(`'${k}' must be an array of CIDRs`);
    disjointCidrs(cfg[k], k).map(formatCidr);
  }
  return steering;
}
