import { parseIp } from "../config/net/ip.ts";

/** One upstream: a host (IP address or DNS name) and a TCP port. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  /** `host:port`, or `[v6]:port`: the upstream's identity in the pool, status and metrics. */
  readonly key: string;
}

const dnsName =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Formats a host and port as an upstream key, bracketing IPv6 addresses. */
export function upstreamKey(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `host:port` or `[v6]:port` into an upstream address. Throws a TypeError naming the
 * rule and the value, so that a bad member address is refused before the pool changes.
 */
export function parseUpstreamAddress(text: string): UpstreamAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m ? (m[1] ?? m[2]!) : "";
  const port = Number(m?.[3]);
  const hostOk =
    m?.[1] !== undefined
      ? parseIp(host)?.family === 6
      : parseIp(host) !== undefined || (dnsName.test(host) && !/^[\d.]+$/.test(host));
  if (!m || !hostOk || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(
      `Cannot use upstream: it must be host:port or [v6]:port with a port in 1-65535, current value is '${text}'`,
    );
  }
  return { host, port, key: upstreamKey(host, port) };
}
