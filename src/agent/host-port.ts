/** Parses `host:port`, `[v6]:port` or `:port` (host defaults), naming the flag on error. */
export function parseHostPort(
  text: string,
  flag: string,
  defaultHost = "0.0.0.0",
): { host: string; port: number } {
  const m = text.match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(
      `${flag} must be host:port (e.g. 0.0.0.0:50000 or [::1]:50000), current value is '${text}'`,
    );
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}
