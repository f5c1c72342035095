// The hand-set side of the mesh data plane: one WireGuard link between two nodes in namespaces on
// one bridge, configured with `wg` and `ip` as an administrator would. The kernel module when this
// kernel has one, else wireguard-go (userspace; its control socket lives in each node's private
// /run/wireguard). Then iperf3 for 10 s with 1 stream across it.
import { join } from "node:path";
import { createLab, type LabBox, requireBinaries, run } from "./lab.ts";

export const iperfSeconds = 10;
const listenPort = 51820;
const tunnelIp = (i: number) => `10.97.0.${i + 1}`;

/** Whether a `wireguard` link can be made in this box (the kernel module is there). */
async function kernelWireGuard(box: LabBox): Promise<boolean> {
  const r = await box.exec("ip", ["link", "add", "wgprobe", "type", "wireguard"]);
  if (r.code !== 0) return false;
  await run(box, "ip", ["link", "del", "wgprobe"]);
  return true;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * iperf3 from `client` to `server` at `address` (a server is started for one test): received
 * bits per second.
 */
export async function iperf(client: LabBox, server: LabBox, address: string): Promise<number> {
  const s = server.spawn("iperf3", ["-s", "-1", "-B", address, "--forceflush"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let serverOut = "";
  s.stdout?.on("data", (d) => {
    serverOut += d;
  });
  s.stderr?.on("data", (d) => {
    serverOut += d;
  });
  try {
    await waitFor("the iperf3 server did not listen", async () => /listening/i.test(serverOut));
    const r = await client.exec("iperf3", ["-c", address, "-t", String(iperfSeconds), "-P", "1", "-J"], {
      timeoutMs: (iperfSeconds + 20) * 1000,
    });
    if (r.code !== 0) throw new Error(`iperf3 exited with ${r.code}: ${r.stdout.slice(-1000)}${r.stderr}`);
    const bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end
      ?.sum_received?.bits_per_second;
    if (!bps) throw new Error(`iperf3 reported no received rate: ${r.stdout.slice(-1000)}`);
    return bps;
  } finally {
    s.kill("SIGKILL");
  }
}

/** Throughput (bits/s) of a WireGuard link set by hand between two fresh nodes, and which implementation ran. */
export async function handWireGuardThroughput(): Promise<{ bitsPerSec: number; implementation: string }> {
  await requireBinaries([
    ["wg", "wireguard-tools"],
    ["iperf3", "iperf3"],
    ["ping", "iputils-ping"],
  ]);
  const lab = await createLab({ name: "peers-wg", nodes: 2, subnet: "10.247.0" });
  try {
    const [a, b] = lab.nodes;
    const kernel = await kernelWireGuard(a!.box);
    if (!kernel) await requireBinaries([["wireguard-go", "wireguard-go"]]);
    const keys = await Promise.all(
      lab.nodes.map(async (n) => {
        const key = (await run(n.box, "wg", ["genkey"])).trim();
        const r = await n.box.exec("sh", ["-c", `echo '${key}' | wg pubkey`]);
        const file = join(n.box.dir, "wg.key");
        await run(n.box, "sh", ["-c", `umask 077; echo '${key}' > '${file}'`]);
        return { file, pub: r.stdout.trim() };
      }),
    );
    for (const [i, n] of lab.nodes.entries()) {
      if (kernel) {
        await run(n.box, "ip", ["link", "add", "wg0", "type", "wireguard"]);
      } else {
        n.box.spawn("wireguard-go", ["-f", "wg0"], {
          stdio: "ignore",
          env: { ...process.env, LOG_LEVEL: "error" },
        });
        await waitFor(
          "wireguard-go did not create wg0",
          async () => (await n.box.exec("wg", ["show", "wg0"])).code === 0,
        );
      }
      const peer = lab.nodes[1 - i]!;
      await run(n.box, "wg", [
        "set",
        "wg0",
        "listen-port",
        String(listenPort),
        "private-key",
        keys[i]!.file,
        "peer",
        keys[1 - i]!.pub,
        "endpoint",
        `${peer.ip}:${listenPort}`,
        "allowed-ips",
        `${tunnelIp(1 - i)}/32`,
      ]);
      await run(n.box, "ip", ["addr", "add", `${tunnelIp(i)}/24`, "dev", "wg0"]);
      await run(n.box, "ip", ["link", "set", "wg0", "up"]);
    }
    await waitFor(
      "the hand-set WireGuard link did not answer ping",
      async () => (await a!.box.exec("ping", ["-n", "-q", "-c", "1", "-W", "1", tunnelIp(1)])).code === 0,
    );
    const bitsPerSec = await iperf(a!.box, b!.box, tunnelIp(1));
    return { bitsPerSec, implementation: kernel ? "kernel" : "wireguard-go" };
  } finally {
    await lab.destroy();
  }
}
