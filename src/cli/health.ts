import { createClient } from "@connectrpc/connect";
import type { Command } from "commander";
import { createApiTransport } from "../api/client/api-transport.ts";
import { nodeUrl } from "../api/fanout/node-address.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { parseDuration } from "../config/duration.ts";
import { type HealthNode, runHealth } from "../health/health-checks.ts";
import { listRecords } from "../provision/cluster-record.ts";
import { processIo } from "./cli-io.ts";
import { globalFlags } from "./client/global-flags.ts";
import { cleanMessage } from "./client/remote-call.ts";
import { defaultApiPort, loadCredentials } from "./client/session.ts";

interface HealthFlags {
  waitTimeout: string;
  controlPlaneNodes?: string;
  workerNodes?: string;
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
    .description("check the cluster: APIs, etcd on every control plane, membership, services")
    .option("--wait-timeout <duration>", "how long to keep retrying failing checks", "2m")
    .option(
      "--control-plane-nodes <list>",
      "control-plane addresses (default: from the local cluster or the context)",
    )
    .option("--worker-nodes <list>", "worker addresses")
    .action(async (flags: HealthFlags, cmd: Command) => {
      const waitMs = parseDuration(flags.waitTimeout);
      if (waitMs === undefined) {
        throw new TypeError(
          `--wait-timeout must be a duration like 30s or 2m, current value is '${flags.waitTimeout}'`,
        );
      }
      const creds = await loadCredentials(globalFlags(cmd), processIo);
      let cps = list(flags.controlPlaneNodes);
      let workers = list(flags.workerNodes);
      if (cps.length === 0) {
        const local = (await listRecords()).find((r) => r.name === creds.contextName);
        cps = local
          ? local.nodes.filter((n) => n.role === "controlplane").map((n) => n.ip)
          : [...creds.endpoints];
        if (local && workers.length === 0)
          workers = local.nodes.filter((n) => n.role === "worker").map((n) => n.ip);
      }
      const transports = [...cps, ...workers].map((address) =>
        createApiTransport({ url: nodeUrl(address, defaultApiPort), tls: creds.tls }),
      );
      const nodes: HealthNode[] = [...cps, ...workers].map((address, i) => ({
        address,
        role: i < cps.length ? "controlplane" : "worker",
        machine: createClient(MachineService, transports[i]!.transport),
      }));
      process.stdout.write(`checking ${cps.length} control planes and ${workers.length} workers\n`);
      try {
        const ok = await runHealth(nodes, {
          deadline: Date.now() + waitMs,
          report: (check, result, final) => {
            const mark = result.ok ? "OK" : final ? "FAIL" : "waiting";
            process.stdout.write(`${mark.padEnd(7)} ${check}: ${cleanMessage(result.detail)}\n`);
          },
        });
        process.exitCode = ok ? 0 : 1;
      } finally {
        for (const t of transports) t.close();
      }
    });
}
