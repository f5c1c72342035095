import type { RunResult } from "../agent/host/host.ts";

/** What the helpers below need of a sandbox: its name, the PID holding its namespaces, exec. */
export interface NamespaceBox {
  readonly name: string;
  readonly pid: number;
  exec(command: string, args: readonly string[]): Promise<RunResult>;
}

/** Runs a command in a box and fails with its output unless it exits with 0. */
export async function mustRun(box: NamespaceBox, command: string, args: readonly string[]): Promise<string> {
  const r = await box.exec(command, args);
  if (r.code !== 0) {
    throw new Error(`${box.name}: ${command} ${args.join(" ")} exited with ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Makes the switch of a test network: a bridge `br0` inside `sw`, up, with `address` when given. */
export async function createSwitchBridge(sw: NamespaceBox, address?: string): Promise<void> {
  await mustRun(sw, "ip", ["link", "add", "br0", "type", "bridge"]);
  if (address) await mustRun(sw, "ip", ["addr", "add", address, "dev", "br0"]);
  await mustRun(sw, "ip", ["link", "set", "br0", "up"]);
}

/**
 * Plugs `node` into the switch: a veth whose end `port` joins `br0` in `sw` and whose other end is
 * created straight inside the node as `eth0`, with `address` (a CIDR); both ends up.
 */
export async function plugIntoSwitch(
  sw: NamespaceBox,
  node: NamespaceBox,
  port: string,
  address: string,
): Promise<void> {
  await mustRun(sw, "ip", [
    "link",
    "add",
    port,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    String(node.pid),
  ]);
  await mustRun(sw, "ip", ["link", "set", port, "master", "br0", "up"]);
  await mustRun(node, "ip", ["addr", "add", address, "dev", "eth0"]);
  await mustRun(node, "ip", ["link", "set", "eth0", "up"]);
}
