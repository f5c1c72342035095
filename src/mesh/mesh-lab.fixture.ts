import type { ChildProcess } from "node:child_process";
import type { ConnectedHost } from "../agent/host/host-wire.ts";
import { findBinary } from "../doctor/doctor.ts";
import { mustRun as check, createSwitchBridge, plugIntoSwitch } from "../testing/lab-network.ts";
import { createSandbox, type Sandbox } from "../testing/sandbox.ts";
import { generateMeshKeyPair, type MeshKeyPair } from "./keys.ts";
import { wireguardGoCommand } from "./link.ts";

/** A test node: a sandbox on the lab's bridge, its host adapter and its mesh identity. */
export interface LabNode {
  readonly name: string;
  readonly box: Sandbox;
  readonly host: ConnectedHost;
  /** IPv4 address on eth0 (the "underlay"), without prefix length. */
  ip: string;
  readonly keys: MeshKeyPair;
  wireguard?: ChildProcess;
}

export interface MeshLab {
  readonly nodes: LabNode[];
  /** Starts wireguard-go inside the node, as a supervisor would. */
  startWireGuard(node: LabNode, linkName: string): ChildProcess;
  destroy(): Promise<void>;
}

/** Fails loudly (never skips) when a program the mesh tests need is missing. */
export async function requireMeshTools(): Promise<void> {
  const missing: string[] = [];
  for (const [bin, pkg] of [
    ["wg", "wireguard-tools"],
    ["wireguard-go", "wireguard-go"],
    ["nft", "nftables"],
    ["ping", "iputils-ping"],
  ] as const) {
    if (!(await findBinary(bin))) missing.push(`${bin} (${pkg})`);
  }
  if (missing.length > 0)
    throw new Error(`mesh tests need ${missing.join(", ")}: run 'npx plinth doctor --install'`);
}

/**
 * `count` sandboxes, each with eth0 on one bridge that lives in a further sandbox (the switch), so
 * nothing is created outside namespaces. Node i gets 10.77.0.(i+1)/24.
 */
export async function createMeshLab(count: number): Promise<MeshLab> {
  await requireMeshTools();
  const tag = `${process.pid % 10000}`;
  const boxes: Sandbox[] = [];
  const hosts: ConnectedHost[] = [];
  const nodes: LabNode[] = [];
  const lab: MeshLab = {
    nodes,
    startWireGuard(node, linkName) {
      const cmd = wireguardGoCommand(linkName);
      const child = node.box.spawn(cmd.command, cmd.args, {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ...cmd.env },
      });
      node.wireguard = child;
      return child;
    },
    async destroy() {
      for (const h of hosts) h.close();
      await Promise.all(boxes.map((b) => b.destroy()));
    },
  };
  try {
    const sw = await createSandbox({ name: `mesh-sw-${tag}` });
    boxes.push(sw);
    await createSwitchBridge(sw);
    for (let i = 0; i < count; i++) {
      const name = `mesh-${String.fromCharCode(97 + i)}-${tag}`;
      const box = await createSandbox({ name });
      boxes.push(box);
      const ip = `10.77.0.${i + 1}`;
      await plugIntoSwitch(sw, box, `p${i}`, `${ip}/24`);
      const host = await box.startHost();
      hosts.push(host);
      nodes.push({ name, box, host, ip, keys: generateMeshKeyPair() });
    }
    return lab;
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

export { check };

/** What must be exactly as before once the mesh is removed. */
export async function networkSnapshot(box: Sandbox): Promise<Record<string, string>> {
  return {
    rules4: await check(box, "ip", ["-4", "rule"]),
    rules6: await check(box, "ip", ["-6", "rule"]),
    nft: await check(box, "nft", ["list", "ruleset"]),
    links: await check(box, "ip", ["-j", "link"]),
    routes4: await check(box, "ip", ["-4", "route", "show", "table", "all"]),
  };
}
