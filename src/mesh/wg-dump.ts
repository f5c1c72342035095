import type { Host } from "../agent/host/host.ts";
import { PlinthError } from "../errors/plinth-error.ts";

/** The interface line of `wg show <if> dump`. @internal */
export interface WgInterfaceDump {
  readonly privateKey?: string;
  readonly publicKey?: string;
  readonly listenPort: number;
  /** 0 = off. */
  readonly fwmark: number;
}

/** One peer line of `wg show <if> dump`, the pre-shared key included (kept inside this module). @internal */
export interface WgPeerDump {
  readonly publicKey: string;
  readonly presharedKey?: string;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  /** Epoch ms, 0 = never. */
  readonly latestHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** 0 = off. */
  readonly persistentKeepaliveS: number;
}

export interface WgDump {
  readonly iface: WgInterfaceDump;
  readonly peers: readonly WgPeerDump[];
}

const none = (v: string | undefined): string | undefined =>
  v === undefined || v === "(none)" ? undefined : v;
const off = (v: string | undefined): number => (v === undefined || v === "off" ? 0 : Number(v));

/**
 * Parses `wg show <if> dump`: a tab-separated interface line (private key, public key, listen
 * port, fwmark) then one line per peer (public key, pre-shared key, endpoint, allowed IPs, latest
 * handshake in seconds, rx bytes, tx bytes, persistent keepalive).
 */
export function parseWgDumpFull(text: string): WgDump {
  const lines = text.split("\n").filter((l) => l.length > 0);
  const head = lines.shift()?.split("\t") ?? [];
  if (head.length !== 4)
    throw new PlinthError("internal", `unexpected 'wg show dump' interface line: ${head.length} fields`);
  const iface: WgInterfaceDump = {
    privateKey: none(head[0]),
    publicKey: none(head[1]),
    listenPort: Number(head[2]),
    fwmark: off(head[3]),
  };
  const peers = lines.map((line, i): WgPeerDump => {
    const f = line.split("\t");
    if (f.length !== 8)
      throw new PlinthError("internal", `unexpected 'wg show dump' peer line ${i + 1}: ${f.length} fields`);
    const allowed = none(f[3]);
    return {
      publicKey: f[0]!,
      presharedKey: none(f[1]),
      endpoint: none(f[2]),
      allowedIps: allowed ? allowed.split(",") : [],
      latestHandshakeMs: Number(f[4]) * 1000,
      rxBytes: Number(f[5]),
      txBytes: Number(f[6]),
      persistentKeepaliveS: off(f[7]),
    };
  });
  return { iface, peers };
}

/** `wg show <name> dump`, parsed; not_found when there is no such WireGuard link. @internal */
export async function readWgDump(host: Host, name: string, signal?: AbortSignal): Promise<WgDump> {
  const r = await host.run("wg", ["show", name, "dump"], { signal });
  if (r.code !== 0) {
    throw new PlinthError(
      "not_found",
      `cannot read WireGuard link ${name}: ${r.stderr.trim() || `wg exit ${r.code}`}`,
    );
  }
  return parseWgDumpFull(r.stdout);
}
