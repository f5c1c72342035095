// Nodes for the peers' sides: one sandbox (src/testing/sandbox.ts) per node and one more holding
// the bridge they all hang off, so that nothing is added to the machine's own network namespace;
// destroying the sandboxes removes every link with them. Unless asked for private copies, the
// nodes share the machine's /etc and /var (copying takes time on a busy disk, which would count
// against a baseline): the programs run here (etcd, nebula, wireguard-go, iperf3, ping) write
// nothing there.
import { findBinary } from "../../src/doctor/doctor.ts";
import { createSwitchBridge, plugIntoSwitch, mustRun as run } from "../../src/testing/lab-network.ts";
import { createSandbox, requireSandboxTools, type Sandbox } from "../../src/testing/sandbox.ts";

/** A process holding the namespaces, and what runs inside them. */
export type LabBox = Sandbox;

export interface LabNode {
  readonly box: LabBox;
  /** The node's IPv4 address on the bridge. */
  readonly ip: string;
}

export interface Lab {
  readonly nodes: readonly LabNode[];
  destroy(): Promise<void>;
}

export interface LabOptions {
  /** Prefix of the sandboxes' names (hostnames). */
  readonly name: string;
  readonly nodes: number;
  /** First three octets of the /24 the nodes get addresses in, from .11 on. */
  readonly subnet: string;
  /** Nodes with a private copy of /etc and /var, for agents. Every node has its own /run/wireguard. */
  readonly privateEtc?: boolean;
}

export { run };

export async function createLab(options: LabOptions): Promise<Lab> {
  await requireSandboxTools();
  const boxes: LabBox[] = [];
  const destroy = async () => {
    await Promise.all(boxes.map((b) => b.destroy()));
  };
  try {
    const sw = await createSandbox({ name: `${options.name}-switch`, shareEtc: true });
    boxes.push(sw);
    await createSwitchBridge(sw);
    const nodes: LabNode[] = [];
    for (let i = 1; i <= options.nodes; i++) {
      const box = await createSandbox({ name: `${options.name}-${i}`, shareEtc: !options.privateEtc });
      boxes.push(box);
      const ip = `${options.subnet}.${10 + i}`;
      await plugIntoSwitch(sw, box, `port${i}`, `${ip}/24`);
      nodes.push({ box, ip });
    }
    return { nodes, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export async function requireBinaries(names: readonly [string, string][]): Promise<void> {
  const missing: string[] = [];
  for (const [binary, pkg] of names) if (!(await findBinary(binary))) missing.push(`${binary} (${pkg})`);
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(", ")}: run 'npx plinth doctor --install' as root`);
  }
}

const pingTimeoutMs = 60_000;

/** A ping's wait for its answer: short, so that a pair that could answer tries again soon. */
const pingWaitS = "0.1";
/** After this long, a slow answer (a machine under heavy load) gets a whole second. */
const pingPatientAfterMs = 10_000;

/**
 * Every ordered pair of nodes pings (each pair on its own, in parallel: one pair's unanswered
 * ping does not hold back the others) until it gets an answer; returns when the last pair got
 * one.
 */
export async function untilAllPing(
  nodes: readonly LabNode[],
  /** A node's address, or undefined while it has none yet. */
  address: (i: number) => string | undefined | Promise<string | undefined>,
  what: string,
  failed: () => string | undefined,
): Promise<void> {
  const pending = new Set<string>();
  for (let a = 0; a < nodes.length; a++)
    for (let b = 0; b < nodes.length; b++) if (a !== b) pending.add(`${a}>${b}`);
  const started = performance.now();
  const deadline = started + pingTimeoutMs;
  const untilAnswered = async (pair: string) => {
    const [a, b] = pair.split(">").map(Number) as [number, number];
    for (;;) {
      const why = failed();
      if (why) throw new Error(why);
      if (performance.now() > deadline) {
        throw new Error(`${what}: no answer within ${pingTimeoutMs / 1000} s for ${[...pending].join(", ")}`);
      }
      // Both ends need their address: without its own, a node has no route to ping by.
      const [from, to] = await Promise.all([address(a), address(b)]);
      const tried = performance.now();
      if (from !== undefined && to !== undefined) {
        const wait = tried - started < pingPatientAfterMs ? pingWaitS : "1";
        const r = await nodes[a]!.box.exec("ping", ["-n", "-q", "-c", "1", "-W", wait, to]);
        if (r.code === 0) {
          pending.delete(pair);
          return;
        }
      }
      // Not faster than every 20 ms: the processes this starts take from what is measured.
      await new Promise((r) => setTimeout(r, Math.max(0, 20 - (performance.now() - tried))));
    }
  };
  await Promise.all([...pending].map(untilAnswered));
}
