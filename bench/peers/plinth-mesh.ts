// Plinth's side of the mesh comparison: three `plinth agent --mode netns` processes in sandboxes
// (private /etc, /var and /run/wireguard) on one bridge, a `plinth discovery serve` beside them,
// every agent started with a config that turns discovery and the mesh on. Measured: from starting
// the agents until every node has pinged every other at its mesh address; then iperf3 across the
// WireGuard link between two of them.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { impersonatorRole } from "../../src/api/auth/roles.ts";
import { fixtures, yamlOf } from "../../src/config/testing/fixtures.ts";
import { MESH_LINK_NAME } from "../../src/mesh/defaults.ts";
import { issueCert } from "../../src/pki/index.ts";
import { plinthBin } from "../../src/testing/cli.ts";
import { createLab, type LabBox, requireBinaries, untilAllPing } from "./lab.ts";
import { iperf } from "./wireguard-link.ts";

const discoveryPort = 3000;
/** A directory to keep each agent's whole log in (debug level), for a timeline of its start. */
const traceDir = process.env.PLINTH_BENCH_MESH_TRACE;

async function nodeConfig(name: string, discoveryUrl: string): Promise<string> {
  const { secrets, worker } = await fixtures();
  const cert = await issueCert({
    ca: secrets.certs.api,
    subject: name,
    organization: [impersonatorRole],
    usage: "peer",
    sans: ["127.0.0.1"],
  });
  const [machine, ...rest] = structuredClone(worker) as { kind?: string; trust?: Record<string, unknown> }[];
  machine!.trust = { ...machine!.trust, certificate: { crt: cert.crt, key: cert.key } };
  return yamlOf(
    machine,
    ...rest.filter((d) => d.kind !== "Discovery" && d.kind !== "Mesh"),
    { apiVersion: "v1alpha1", kind: "Discovery", enabled: true, endpoint: discoveryUrl },
    { apiVersion: "v1alpha1", kind: "Mesh", enabled: true },
  );
}

/** The node's global address on the mesh link, once the agent has configured it. */
async function meshAddress(box: LabBox): Promise<string | undefined> {
  const r = await box.exec("ip", ["-j", "-6", "addr", "show", "dev", MESH_LINK_NAME, "scope", "global"]);
  if (r.code !== 0) return undefined;
  const links = JSON.parse(r.stdout || "[]") as { addr_info?: { local?: string }[] }[];
  return links[0]?.addr_info?.[0]?.local;
}

export async function plinthMesh(): Promise<{ convergeMs: number; linksMs: number; bitsPerSec: number }> {
  await requireBinaries([
    ["wg", "wireguard-tools"],
    ["wireguard-go", "wireguard-go"],
    ["nft", "nftables"],
    ["iperf3", "iperf3"],
    ["ping", "iputils-ping"],
  ]);
  const lab = await createLab({
    name: "peers-mesh",
    nodes: 4,
    subnet: "10.248.0",
    privateEtc: true,
  });
  const logs: string[] = [];
  let exited: string | undefined;
  try {
    const service = lab.nodes[3]!;
    const url = `http://${service.ip}:${discoveryPort}`;
    const discovery = service.box.spawn(
      process.execPath,
      [plinthBin, "discovery", "serve", "--listen", `${service.ip}:${discoveryPort}`, "--metrics", "off"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let discoveryLog = "";
    // It says where it serves on stderr, with its log.
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: discovery.stderr! }).on("line", (l) => {
        discoveryLog = `${discoveryLog}${l}\n`.slice(-4000);
        if (l.includes(`serving on ${url}`)) resolve();
      });
      discovery.once("exit", (code) =>
        reject(new Error(`the discovery service exited with ${code}: ${discoveryLog}`)),
      );
    });
    discovery.once("exit", (code) => {
      exited ??= `the discovery service exited with ${code}: ${discoveryLog}`;
    });

    const nodes = lab.nodes.slice(0, 3);
    const files: string[] = [];
    for (const n of nodes) {
      const file = join(n.box.dir, "config.yaml");
      await writeFile(file, await nodeConfig(n.box.name, url), { mode: 0o600 });
      files.push(file);
    }
    const addresses: (string | undefined)[] = [];
    let linksAt: number | undefined;
    const full: string[] = [];
    const startedAt = Date.now();
    const t0 = performance.now();
    for (const [i, n] of nodes.entries()) {
      const agent = n.box.spawn(
        process.execPath,
        [
          plinthBin,
          "agent",
          "--state-dir",
          "/var/lib/plinth/state",
          "--listen",
          "127.0.0.1:50000",
          "--mode",
          "netns",
          "--metrics",
          "off",
          "--config",
          files[i]!,
          ...(traceDir ? ["--log-level", "debug"] : []),
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      logs[i] = "";
      full[i] = "";
      agent.stderr?.setEncoding("utf8").on("data", (d: string) => {
        logs[i] = (logs[i]! + d).slice(-4000);
        if (traceDir) full[i] += d;
      });
      agent.once("exit", (code) => {
        exited ??= `the agent on ${n.box.name} exited with ${code}`;
      });
    }
    // One look per node at a time and at most every 20 ms, however many pairs ask.
    const looks = new Map<number, { at: number; done: boolean; address: Promise<string | undefined> }>();
    const lookUp = (i: number) => {
      const last = looks.get(i);
      if (last && (!last.done || performance.now() - last.at < 20)) return last.address;
      const look = { at: performance.now(), done: false, address: meshAddress(nodes[i]!.box) };
      const done = () => {
        look.done = true;
      };
      look.address.then(done, done);
      looks.set(i, look);
      return look.address;
    };
    await untilAllPing(
      nodes,
      async (i) => {
        addresses[i] ??= await lookUp(i);
        if (linksAt === undefined && nodes.every((_, j) => addresses[j] !== undefined))
          linksAt = performance.now();
        return addresses[i];
      },
      "Plinth mesh",
      () => exited,
    );
    const convergeMs = performance.now() - t0;
    if (traceDir) {
      const mark = (msg: string, time: number) => `${JSON.stringify({ msg, time })}\n`;
      for (const [i, text] of full.entries()) {
        const tail = mark("bench: every node pinged every other", startedAt + convergeMs);
        await writeFile(
          join(traceDir, `agent-${i + 1}.log`),
          mark("bench: agents started", startedAt) + text + tail,
        );
      }
    }
    const bitsPerSec = await iperf(nodes[0]!.box, nodes[1]!.box, addresses[1]!);
    return { convergeMs, linksMs: (linksAt ?? performance.now()) - t0, bitsPerSec };
  } catch (err) {
    throw new Error(
      `Plinth side: ${(err as Error).message}\n${logs.map((l, i) => `agent ${i + 1}: ${l}`).join("\n")}`,
    );
  } finally {
    exited = "stopped";
    await lab.destroy();
  }
}
