import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { parseIp } from "../config/net/ip.ts";
import { findBinary, isRoot } from "../doctor/doctor.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import type { UpstreamAddress } from "./upstream-address.ts";

/**
 * The kernel data path: nftables DNAT of new connections to the listen address to the healthy
 * upstreams, so that no byte and no connection passes through user space. It lives in one table
 * of its own (`ip plinth_balancer`); no other table is read or changed. New connections take the
 * slots of a map in turn (`numgen inc mod 60`); the balancer rewrites the map, in one atomic
 * transaction, whenever the set of upstreams to use changes. Connections already open keep their
 * upstream: their translation lives in connection tracking, not in the rules.
 *
 * With an empty map the rule does not match, and the connection reaches the balancer's own
 * listener on the same address, which tries every upstream in turn (the Node data path).
 */
export interface KernelDataPath {
  /** Upstreams new connections are spread over (IPv4 only); empty: the Node listener takes them. */
  setTargets(targets: readonly UpstreamAddress[]): Promise<void>;
  /** The upstreams in the map now, `host:port`. */
  readonly targets: readonly string[];
  /**
   * Open connections the kernel forwards, by upstream `host:port` (conntrack entries in state
   * ESTABLISHED to the listen address); undefined without `conntrack`.
   */
  countConnections(): Promise<Map<string, number> | undefined>;
  /** Deletes the table and puts back the sysctl it changed. */
  remove(): Promise<void>;
}

/** Runs a program (the agent's `Host.run` has this shape). */
export type RunCommand = (
  command: string,
  args: readonly string[],
  options?: { readonly input?: string },
) => Promise<{ readonly stdout: string; readonly stderr: string; readonly code: number }>;

export const kernelTable = "plinth_balancer";
/** Map slots: divisible by 1-6, so that up to six upstreams share new connections evenly. */
export const kernelSlots = 60;
const routeLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet";
const commentPrefix = "plinth API balancer; route_localnet before: ";

export const runCommand: RunCommand = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      if (e && typeof e.code === "string") reject(e);
      else resolve({ stdout, stderr, code: e ? Number(e.code ?? 1) : 0 });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });

/** Why the kernel data path cannot run here, or undefined when it can. */
export async function kernelDataPathUnavailable(host: string): Promise<string | undefined> {
  if (parseIp(host)?.family !== 4) return `it needs an IPv4 listen address, not ${host}`;
  if (!isRoot()) return "it needs root privileges";
  if (!(await findBinary("nft"))) return "nft is missing: run 'npx plinth doctor --feature host --install'";
  return undefined;
}

/** The upstreams the kernel can forward to: IPv4 addresses (no names, no IPv6 from 127.0.0.1). */
export function kernelCapable(address: UpstreamAddress): boolean {
  return parseIp(address.host)?.family === 4;
}

function isLoopback(address: UpstreamAddress): boolean {
  return address.host.startsWith("127.");
}

function tableScript(host: string, port: number, routeLocalnetBefore: string): string {
  return `add table ip ${kernelTable}
delete table ip ${kernelTable}
table ip ${kernelTable} {
  comment "${commentPrefix}${routeLocalnetBefore}"
  map slots { typeof numgen inc mod ${kernelSlots} : ip daddr . tcp dport; }
  chain output {
    type nat hook output priority -100; policy accept;
    ip daddr ${host} tcp dport ${port} dnat ip to numgen inc mod ${kernelSlots} map @slots
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    meta l4proto tcp ct status dnat ct original ip daddr ${host} ct original proto-dst ${port} oifname != "lo" masquerade
  }
}
`;
}

/** Slot i → the (i mod n)th target: with `numgen inc`, strict round-robin over the targets. */
export function slotElements(targets: readonly UpstreamAddress[]): string {
  if (targets.length === 0) return "";
  const items = Array.from({ length: kernelSlots }, (_, i) => {
    const t = targets[i % targets.length]!;
    return `${i} : ${t.host} . ${t.port}`;
  });
  return `add element ip ${kernelTable} slots { ${items.join(", ")} }\n`;
}

async function nft(run: RunCommand, script: string, what: string): Promise<void> {
  const r = await run("nft", ["-f", "-"], { input: script });
  if (r.code !== 0) {
    throw new PlinthError(
      "internal",
      `Cannot ${what} in nftables table ip ${kernelTable}: ${r.stderr.trim()}`,
    );
  }
}

/**
 * `conntrack -L` lines → entries by the reply direction's source (the upstream after DNAT):
 * `tcp 6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=UPSTREAM dst=… sport=PORT …`.
 */
export function countByReplySource(listing: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of listing.split("\n")) {
    const m = /src=\S+ dst=\S+ sport=\d+ dport=\d+ .*?src=(\S+) dst=\S+ sport=(\d+)/.exec(line);
    if (!m) continue;
    const key = `${m[1]}:${m[2]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Deletes the conntrack entries of refused connections (state CLOSE) from the listen address to
 * an upstream that left the map. Conntrack lets a new connection from the same source port reuse
 * such an entry for 10 s, translation included, so without this a client whose port comes round
 * again would be sent to the dead upstream. Open connections (other states) are left alone. Best
 * effort: `conntrack` (package conntrack) is optional; exit code 1 means there was none.
 */
async function forgetRefused(
  run: RunCommand,
  conntrack: string,
  host: string,
  port: number,
  upstream: UpstreamAddress,
): Promise<void> {
  await run(conntrack, [
    "-D",
    "-p",
    "tcp",
    "--orig-dst",
    host,
    "--dport",
    String(port),
    "--reply-src",
    upstream.host,
    "--reply-port-src",
    String(upstream.port),
    "--state",
    "CLOSE",
  ]).catch(() => {});
}

/**
 * route_localnet as it was before Plinth changed it: from the comment of a table left by an
 * earlier run (that one may have changed it and crashed), or as it is now.
 */
async function originalRouteLocalnet(run: RunCommand): Promise<{ value: string; leftover: boolean }> {
  const listed = await run("nft", ["list", "table", "ip", kernelTable]);
  const m = listed.code === 0 ? new RegExp(`${commentPrefix}(\\d)`).exec(listed.stdout) : null;
  if (m) return { value: m[1]!, leftover: true };
  return { value: (await readFile(routeLocalnet, "utf8")).trim(), leftover: false };
}

/**
 * Creates (or replaces, after a crash) the table for `host:port` with an empty map. Upstreams
 * that are not on loopback need `net.ipv4.conf.all.route_localnet=1` (a packet from 127.0.0.1
 * may then leave this host's loopback) and the masquerade rule; the sysctl is set only once such
 * an upstream is in the map, and put back by `remove`.
 */
export async function installKernelDataPath(options: {
  readonly host: string;
  readonly port: number;
  readonly run?: RunCommand;
}): Promise<KernelDataPath> {
  const run = options.run ?? runCommand;
  const { value: before, leftover } = await originalRouteLocalnet(run);
  await nft(run, tableScript(options.host, options.port, before), "create the balancer table");
  let current: readonly UpstreamAddress[] = [];
  const conntrack = await findBinary("conntrack");
  // Whether the sysctl may differ from `before` because of Plinth (this run or an earlier one).
  let localnetSet = leftover;
  let queue: Promise<void> = Promise.resolve();
  let removed = false;

  // One nft transaction at a time, in the order asked.
  const serial = (task: () => Promise<void>): Promise<void> => {
    const next = queue.then(task);
    queue = next.catch(() => {});
    return next;
  };

  return {
    get targets() {
      return current.map((t) => t.key);
    },
    setTargets(targets) {
      const usable = targets.filter(kernelCapable);
      return serial(async () => {
        if (removed) return;
        if (usable.some((t) => !isLoopback(t)) && (await readFile(routeLocalnet, "utf8")).trim() !== "1") {
          await writeFile(routeLocalnet, "1");
          localnetSet = true;
        }
        await nft(
          run,
          `flush map ip ${kernelTable} slots\n${slotElements(usable)}`,
          "rewrite the upstream map",
        );
        const kept = new Set(usable.map((t) => t.key));
        const left = current.filter((t) => !kept.has(t.key));
        current = usable;
        if (conntrack && left.length > 0) {
          const forget = async () => {
            for (const t of left) await forgetRefused(run, conntrack, options.host, options.port, t);
          };
          await forget();
          // Once more a little later: connections refused while the map changed end up after the first pass.
          setTimeout(() => void serial(forget), 1000).unref();
        }
      });
    },
    async countConnections() {
      if (!conntrack) return undefined;
      const r = await run(conntrack, [
        "-L",
        "-p",
        "tcp",
        "--orig-dst",
        options.host,
        "--dport",
        String(options.port),
        "--state",
        "ESTABLISHED",
      ]);
      if (r.code !== 0) return undefined;
      return countByReplySource(r.stdout);
    },
    remove() {
      return serial(async () => {
        if (removed) return;
        removed = true;
        current = [];
        await nft(run, `delete table ip ${kernelTable}\n`, "delete the balancer table");
        if (localnetSet && (await readFile(routeLocalnet, "utf8")).trim() !== before) {
          await writeFile(routeLocalnet, before);
        }
      });
    },
  };
}
