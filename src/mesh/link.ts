import { isIPv6 } from "node:net";
import type { Host } from "../agent/host/host.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { parseCidr } from "./cidr.ts";
import { decodeMeshKey } from "./keys.ts";
import { requireInteger, requireLinkName, runChecked, runWg } from "./run-checked.ts";
import { readWgDump } from "./wg-dump.ts";

export interface MeshLinkConfig {
  /** Link name, e.g. "plinth-mesh" (at most 15 characters). */
  readonly name: string;
  readonly privateKey: string;
  /** Applied to every peer by syncMeshPeers; kept here so one object describes the node's mesh. */
  readonly presharedKey?: string;
  readonly listenPort: number;
  /** 1280 (the IPv6 minimum) to 65535. */
  readonly mtu: number;
  /** This node's mesh address, configured as /128, plus a route for `prefix` on the link. */
  readonly address: string;
  /** The mesh /64. */
  readonly prefix: string;
  /** WireGuard's own encrypted packets carry it (exempt from steering). */
  readonly fwmark: number;
}

/**
 * How to run the userspace implementation when the kernel has none. The caller supervises it; it
 * creates the TUN link `name` and its control socket /var/run/wireguard/<name>.sock, and exits
 * when the link is deleted (removeMesh).
 */
export function wireguardGoCommand(name: string): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  requireLinkName(name);
  return {
    command: "wireguard-go",
    args: ["-f", name],
    env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" },
  };
}

const kernelSupport = new WeakMap<Host, boolean>();

/** Whether this kernel can create a `wireguard` link (probed once per host by creating and deleting one). */
export async function kernelHasWireGuard(host: Host): Promise<boolean> {
  const known = kernelSupport.get(host);
  if (known !== undefined) return known;
  const probe = "plinth-wgprobe";
  const r = await host.run("ip", ["link", "add", probe, "type", "wireguard"]);
  if (r.code === 0) await runChecked(host, "ip", ["link", "del", probe]);
  kernelSupport.set(host, r.code === 0);
  return r.code === 0;
}

interface IpLink {
  readonly ifname: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly addr_info?: readonly { family: string; local: string; prefixlen: number; scope: string }[];
}

/**
 * Creates the kernel link if possible (with wireguard-go the link must already exist: that
 * process creates it), then sets the private key, listen port, fwmark, MTU, the /128 address, the
 * route of the /64 on the link, and brings it up. Reads first and changes only what differs, so a
 * second call changes nothing and a call after drift repairs it. Foreign global addresses on the
 * link are removed.
 */
export async function configureMeshLink(
  host: Host,
  cfg: MeshLinkConfig,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  validateLinkConfig(cfg);
  const { signal } = opts;
  const { name } = cfg;
  // The link and its addresses in one read, WireGuard's view beside it: each read is a process,
  // and a starting machine is slow to start them.
  const read = () =>
    Promise.all([readLink(host, name, signal), readWgDump(host, name, signal).catch(() => undefined)]);
  let [link, dump] = await read();
  if (!link) {
    if (!(await kernelHasWireGuard(host))) {
      throw new PlinthError(
        "unavailable",
        `mesh link ${name} does not exist and this kernel has no wireguard link type: start '${wireguardGoCommand(name).command} -f ${name}' first`,
      );
    }
    await runChecked(host, "ip", ["link", "add", name, "type", "wireguard"], { signal });
    [link, dump] = await read();
    if (!link) throw new PlinthError("internal", `mesh link ${name} vanished right after being created`);
  }
  // Read again, failing loudly now, when the link was there but WireGuard's view was not.
  dump ??= await readWgDump(host, name, signal);

  const iface = dump.iface;
  const set: string[] = [];
  if (iface.privateKey !== cfg.privateKey) set.push("private-key", "/dev/stdin");
  if (iface.listenPort !== cfg.listenPort) set.push("listen-port", String(cfg.listenPort));
  if (iface.fwmark !== cfg.fwmark) set.push("fwmark", String(cfg.fwmark));

  // What `ip` changes goes in one batch (one process), in this order; it stops at the first error.
  // No -4/-6 in a batch line: the addresses say their family.
  const batch: string[] = [];
  if (link.mtu !== cfg.mtu || !link.flags.includes("UP"))
    batch.push(`link set dev ${name} mtu ${cfg.mtu} up`);
  const want = parseCidr(`${cfg.address}/128`, "address").address;
  let present = false;
  for (const a of link.addr_info ?? []) {
    if (a.scope === "link") continue;
    const mine =
      a.family === "inet6" && a.prefixlen === 128 && parseCidr(a.local, "address").address === want;
    if (mine) present = true;
    else batch.push(`addr del ${a.local}/${a.prefixlen} dev ${name}`);
  }
  // nodad: the address is unique by construction, and duplicate detection would delay it by a second.
  if (!present) batch.push(`addr add ${want}/128 dev ${name} nodad`);
  batch.push(`route replace ${cfg.prefix} dev ${name}`);

  await Promise.all([
    // The private key goes through stdin, never argv (visible in /proc to every user).
    set.length > 0 ? runWg(host, ["set", name, ...set], `${cfg.privateKey}\n`, signal) : undefined,
    runChecked(host, "ip", ["-batch", "-"], { input: `${batch.join("\n")}\n`, signal }),
  ]);
}

/** The link with its addresses (`ip addr show` says both); undefined when it does not exist. */
async function readLink(host: Host, name: string, signal?: AbortSignal): Promise<IpLink | undefined> {
  const r = await host.run("ip", ["-json", "addr", "show", "dev", name], { signal });
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as IpLink[])[0];
}

function validateLinkConfig(cfg: MeshLinkConfig): void {
  requireLinkName(cfg.name, "name");
  decodeMeshKey(cfg.privateKey, "privateKey");
  if (cfg.presharedKey !== undefined) decodeMeshKey(cfg.presharedKey, "presharedKey");
  requireInteger(cfg.listenPort, "listenPort", 1, 65535);
  requireInteger(cfg.mtu, "mtu", 1280, 65535);
  requireInteger(cfg.fwmark, "fwmark", 1, 0xffffffff);
  if (typeof cfg.address !== "string" || !isIPv6(cfg.address)) {
    throw new TypeError(
      `'address' must be an IPv6 address without prefix length, got ${JSON.stringify(cfg.address)}`,
    );
  }
  const prefix = parseCidr(cfg.prefix, "prefix");
  if (prefix.family !== 6 || prefix.length !== 64) {
    throw new TypeError(`'prefix' must be an IPv6 /64, got ${JSON.stringify(cfg.prefix)}`);
  }
}
