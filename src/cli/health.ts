import { createClient } from "@connectrpc/connect";
import type { Command } from "commander";
import { createApiTransport } from "../api/client/api-transport.ts";
import { nodeUrl } from "../api/fanout/node-address.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { parseDuration } from "../config/duration.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { type HealthNode, runHealth } from "../health/health-checks.ts";
import { defaultMinimums, parseSize, type ResourceMinimums } from "../health/minimums.ts";
import { listRecords } from "../provision/cluster-record.ts";
import { processIo } from "./cli-io.ts";
import { globalFlags } from "./client/global-flags.ts";
import { cleanMessage, describeRemoteError } from "./client/remote-call.ts";
import { defaultApiPort, loadCredentials } from "./client/session.ts";
import { withSession } from "./client/with-session.ts";

interface HealthFlags {
  waitTimeout: string;
  controlPlaneNodes?: string;
  workerNodes?: string;
  server?: boolean;
  minMemory: string;
  minDisk: string;
}

const sizeFlag = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}Mi`;

function size(flag: string, text: string): number {
  const n = parseSize(text);
  if (n === undefined) {
    throw new TypeError(`${flag} must be a size like 512Mi, 2Gi or 300M, current value is '${text}'`);
  }
  return n;
}

/** One progress line, the same in local and server mode. */
function printProgress(check: string, ok: boolean, final: boolean, detail: string): void {
  const mark = ok ? "OK" : final ? "FAIL" : "waiting";
  process.stdout.write(`${mark.padEnd(7)} ${check}: ${cleanMessage(detail)}\n`);
}

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** `plinth health`: checks a cluster, step by step, until every check passes or time runs out. */
export function registerHealth(program: Command): void {
  program
    .command("health")
    .description("check the cluster: APIs, etcd, membership, memory and disk, diagnostics, services")
    .option("--wait-timeout <duration>", "how long to keep retrying failing checks", "2m")
    .option(
      "--control-plane-nodes <list>",
      "control-plane addresses (default: from the local cluster or the context)",
    )
    .option("--worker-nodes <list>", "worker addresses")
    .option("--server", "run the checks on the endpoint (or the one node of -n) and stream their progress")
    .option(
      "--min-memory <size>",
      "memory every node must have available",
      sizeFlag(defaultMinimums.memoryBytes),
    )
    .option(
      "--min-disk <size>",
      "free disk every node must have for its state dir",
      sizeFlag(defaultMinimums.diskBytes),
    )
    .action(async (flags: HealthFlags, cmd: Command) => {
      const waitMs = parseDuration(flags.waitTimeout);
      if (waitMs === undefined) {
        throw new TypeError(
          `--wait-timeout must be a duration like 30s or 2m, current value is '${flags.waitTimeout}'`,
        );
      }
      const minimums: ResourceMinimums = {
        memoryBytes: size("--min-memory", flags.minMemory),
        diskBytes: size("--min-disk", flags.minDisk),
      };
      const creds = await loadCredentials(globalFlags(cmd), processIo);
      let cps = list(flags.controlPlaneNodes);
      let workers = list(flags.workerNodes);
      /** Named, or from the local cluster: not a guess from the context's endpoints. */
      let known = cps.length > 0;
      if (cps.length === 0) {
        const local = (await listRecords()).find((r) => r.name === creds.contextName);
        known = !!local;
        cps = local
          ? local.nodes.filter((n) => n.role === "controlplane").map((n) => n.ip)
          : [...creds.endpoints];
        if (local && workers.length === 0)
          workers = local.nodes.filter((n) => n.role === "worker").map((n) => n.ip);
      }
      if (flags.server) {
        // Without known nodes the checking node takes the cluster it knows (itself and its affiliates).
        const nodes = known ? { cps, workers } : { cps: [], workers: [] };
        process.exitCode = (await serverHealth(cmd, nodes, waitMs, minimums)) ? 0 : 1;
        return;
      }
      const transports = [...cps, ...workers].map((address) =>
        createApiTransport({ url: nodeUrl(address, defaultApiPort), tls: creds.tls }),
      );
      const nodes: HealthNode[] = [...cps, ...workers].map((address, i) => ({
        address,
        role: i < cps.length ? "controlplane" : "worker",
        machine: createClient(MachineService, transports[i]!.transport),
        resources: createClient(ResourceService, transports[i]!.transport),
      }));
      process.stdout.write(`checking ${cps.length} control planes and ${workers.length} workers\n`);
      try {
        const ok = await runHealth(nodes, {
          deadline: Date.now() + waitMs,
          minimums,
          report: (check, result, final) => printProgress(check, result.ok, final, result.detail),
        });
        process.exitCode = ok ? 0 : 1;
      } finally {
        for (const t of transports) t.close();
      }
    });
}

/**
 * `--server`: the node runs the checks (as this client: it passes the certificate on) and
 * streams each step; the nodes named with --control-plane-nodes/--worker-nodes (or of the local
 * cluster) are passed along, otherwise the node checks the cluster it knows (itself and its
 * affiliates).
 */
async function serverHealth(
  cmd: Command,
  nodes: { cps: string[]; workers: string[] },
  waitMs: number,
  minimums: ResourceMinimums,
): Promise<boolean> {
  return withSession(cmd, async (s) => {
    if (s.nodes.length > 1) {
      throw new PlinthError(
        "invalid_argument",
        `health --server: one node runs the checks, current value of --nodes is ${s.nodes.join(",")}`,
      );
    }
    const request = {
      waitTimeout: { seconds: BigInt(Math.floor(waitMs / 1000)), nanos: (waitMs % 1000) * 1e6 },
      controlPlaneNodes: nodes.cps,
      workerNodes: nodes.workers,
      minMemoryBytes: BigInt(minimums.memoryBytes),
      minDiskBytes: BigInt(minimums.diskBytes),
    };
    try {
      for await (const m of s.machine.healthCheck(request, s.callOptions)) {
        if (m.metadata?.error) {
          throw new PlinthError(
            "unavailable",
            `node ${m.metadata.node || "?"}: ${cleanMessage(m.metadata.error)}`,
          );
        }
        if (m.done) return m.healthy;
        if (m.check === "") process.stdout.write(`${m.detail} (from ${m.metadata?.node || s.endpoint})\n`);
        else printProgress(m.check, m.ok, m.final, m.detail);
      }
    } catch (err) {
      throw describeRemoteError(err, s);
    }
    throw new PlinthError("unavailable", "health --server: the stream ended before the checks did");
  });
}
