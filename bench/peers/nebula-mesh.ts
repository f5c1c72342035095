// The Nebula side of the mesh comparison: three nodes in namespaces on one bridge, one of them the
// lighthouse, certificates from nebula-cert, every daemon with Nebula's defaults except what a
// working overlay needs (the lighthouse's address, a firewall that lets ping through). Measured:
// from starting the three daemons until every node has pinged every other over the overlay.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLab, type LabNode, requireBinaries, run, untilAllPing } from "./lab.ts";

const overlayIp = (i: number) => `10.98.0.${i + 1}`;
const port = 4242;

function config(dir: string, nodes: readonly LabNode[], i: number): string {
  const lighthouse = i === 0;
  return `pki:
  ca: ${join(dir, "ca.crt")}
  cert: ${join(dir, `node${i}.crt`)}
  key: ${join(dir, `node${i}.key`)}
static_host_map:
  "${overlayIp(0)}": ["${nodes[0]!.ip}:${port}"]
lighthouse:
  am_lighthouse: ${lighthouse}
  hosts: [${lighthouse ? "" : `"${overlayIp(0)}"`}]
listen:
  host: 0.0.0.0
  port: ${port}
tun:
  dev: nebula1
firewall:
  outbound:
    - { port: any, proto: any, host: any }
  inbound:
    - { port: any, proto: any, host: any }
logging:
  level: warning
`;
}

/** Milliseconds from starting the three nebula daemons until every node pinged every other. */
export async function nebulaConverge(): Promise<number> {
  await requireBinaries([
    ["nebula", "nebula"],
    ["nebula-cert", "nebula"],
    ["ping", "iputils-ping"],
  ]);
  const lab = await createLab({ name: "peers-nebula", nodes: 3, subnet: "10.246.0" });
  const logs: string[] = [];
  let exited: string | undefined;
  try {
    const dir = join(lab.nodes[0]!.box.dir, "nebula");
    await mkdir(dir, { recursive: true });
    const cert = lab.nodes[0]!.box;
    await run(cert, "nebula-cert", [
      "ca",
      "-name",
      "peers",
      "-out-crt",
      join(dir, "ca.crt"),
      "-out-key",
      join(dir, "ca.key"),
    ]);
    for (const [i] of lab.nodes.entries()) {
      await run(cert, "nebula-cert", [
        "sign",
        "-ca-crt",
        join(dir, "ca.crt"),
        "-ca-key",
        join(dir, "ca.key"),
        "-name",
        `node${i}`,
        "-ip",
        `${overlayIp(i)}/24`,
        "-out-crt",
        join(dir, `node${i}.crt`),
        "-out-key",
        join(dir, `node${i}.key`),
      ]);
      await writeFile(join(dir, `node${i}.yml`), config(dir, lab.nodes, i));
    }
    const t0 = performance.now();
    for (const [i, node] of lab.nodes.entries()) {
      const child = node.box.spawn("nebula", ["-config", join(dir, `node${i}.yml`)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      logs[i] = "";
      const keep = (d: Buffer) => {
        logs[i] = (logs[i]! + d).slice(-3000);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      child.once("exit", (code) => {
        exited ??= `nebula on node ${i} exited with ${code}: ${logs[i]}`;
      });
    }
    await untilAllPing(lab.nodes, overlayIp, "nebula overlay", () => exited);
    return performance.now() - t0;
  } catch (err) {
    throw new Error(
      `Nebula side: ${(err as Error).message}\n${logs.map((l, i) => `node${i}: ${l}`).join("\n")}`,
    );
  } finally {
    exited = "stopped";
    await lab.destroy();
  }
}
