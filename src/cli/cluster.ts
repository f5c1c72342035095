import type { Command } from "commander";
import { mergeClientConfig } from "../config/client-config.ts";
import { parseDuration } from "../config/duration.ts";
import {
  checkPrerequisites,
  installHint,
  installPackages,
  isRoot,
  selectPrerequisites,
} from "../doctor/doctor.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { namespacePids } from "../provision/cluster-network.ts";
import { type ClusterRecord, listRecords, readRecord } from "../provision/cluster-record.ts";
import { createCluster } from "../provision/create-cluster.ts";
import { destroyCluster } from "../provision/destroy-cluster.ts";
import { collect, processIo } from "./cli-io.ts";
import { globalFlags } from "./client/global-flags.ts";
import { renderTable } from "./output/table.ts";
import { readPatchArgs } from "./patch-args.ts";
import { plinthconfigPath, readPlinthconfig, writePlinthconfig } from "./plinthconfig-file.ts";

interface CreateFlags {
  name: string;
  controlplanes: string;
  workers: string;
  cidr: string;
  configPatch: string[];
  configPatchControlPlane: string[];
  configPatchWorker: string[];
  waitTimeout: string;
  withMesh?: boolean;
  topology: string;
  sites?: string;
  timings?: boolean;
}

/** Root, and the programs a local cluster needs (installed with apt-get when missing). */
async function requireClusterHost(): Promise<void> {
  const missing = (await checkPrerequisites(selectPrerequisites(["cluster"]))).filter((c) => !c.found);
  if (!isRoot()) {
    const also =
      missing.length > 0
        ? `; also missing: ${missing.map((m) => m.binary).join(", ")} (${installHint(missing)})`
        : "";
    throw new PlinthError(
      "permission_denied",
      `cluster commands need root: they create network namespaces and a bridge${also}`,
    );
  }
  if (missing.length > 0) {
    await installPackages([...new Set(missing.map((m) => m.aptPackage))], {
      log: (l) => process.stderr.write(`plinth: ${l}\n`),
    });
  }
}

function count(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value))
    throw new TypeError(`${flag} must be a whole number, current value is '${value}'`);
  return n;
}

/** One line per site: its network, bridge and router; then the discovery service. */
function describeNetwork(r: ClusterRecord): string {
  const lines = [`cluster ${r.name}: topology ${r.topology}, mesh ${r.mesh ? "on" : "off"}`];
  for (const s of r.sites) {
    const router = s.router ? `, NAT router ${s.router.siteIp} -> ${s.router.publicIp}` : "";
    lines.push(`  ${s.name}: ${s.cidr} on bridge ${s.bridge}, host ${s.hostIp}${router}`);
  }
  if (r.public) lines.push(`  public: ${r.public.cidr} on bridge ${r.public.bridge}`);
  if (r.discovery) lines.push(`  discovery: ${r.discovery.url} (namespace ${r.discovery.netns})`);
  return lines.join("\n");
}

/** `cluster create --timings`: each phase's duration (from the end of the one before) and the total. */
export function renderTimings(phases: readonly (readonly [string, number])[], totalMs: number): string {
  const rows: [string, number][] = phases.map(([name, at], i) => [name, at - (phases[i - 1]?.[1] ?? 0)]);
  rows.push(["client config", totalMs - (phases.at(-1)?.[1] ?? 0)], ["total", totalMs]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return `timings:\n${rows.map(([name, ms]) => `  ${name.padEnd(width)}  ${String(ms).padStart(6)} ms\n`).join("")}`;
}

/** `plinth cluster create|destroy|show`: a local cluster of nodes in network namespaces. */
export function registerCluster(program: Command): void {
  const group = program
    .command("cluster")
    .description("local clusters: nodes in network namespaces on this machine");
  group
    .command("create")
    .description("create a local cluster (as root) and add its context to the client config")
    .option("--name <name>", "cluster name", "demo")
    .option("--controlplanes <n>", "control-plane nodes", "3")
    .option("--workers <n>", "worker nodes", "2")
    .option("--cidr <cidr>", "IPv4 network of the nodes", "10.5.0.0/24")
    .option("-p, --config-patch <patch>", "@file or inline patch for every node; repeatable", collect, [])
    .option("--config-patch-control-plane <patch>", "patch for control planes; repeatable", collect, [])
    .option("--config-patch-worker <patch>", "patch for workers; repeatable", collect, [])
    .option("--wait-timeout <duration>", "how long to wait for the cluster to be ready", "2m")
    .option("--with-mesh", "run a discovery service for the cluster and turn the WireGuard mesh on")
    .option("--topology <flat|nat>", "flat: one bridge; nat: sites behind NAT routers", "flat")
    .option("--sites <n>", "sites of the nat topology (2 to 8)")
    .option("--timings", "print how long each phase took once the cluster is ready")
    .action(async (flags: CreateFlags, cmd: Command) => {
      const waitTimeoutMs = parseDuration(flags.waitTimeout);
      if (waitTimeoutMs === undefined) {
        throw new TypeError(
          `--wait-timeout must be a duration like 90s or 2m, current value is '${flags.waitTimeout}'`,
        );
      }
      const options = {
        name: flags.name,
        controlplanes: count("--controlplanes", flags.controlplanes),
        workers: count("--workers", flags.workers),
        cidr: flags.cidr,
        topology: flags.topology,
        sites: flags.sites === undefined ? undefined : count("--sites", flags.sites),
        withMesh: flags.withMesh ?? false,
        patches: await readPatchArgs(flags.configPatch, "--config-patch"),
        controlPlanePatches: await readPatchArgs(
          flags.configPatchControlPlane,
          "--config-patch-control-plane",
        ),
        workerPatches: await readPatchArgs(flags.configPatchWorker, "--config-patch-worker"),
        waitTimeoutMs,
      };
      await requireClusterHost();
      const started = Date.now();
      const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
      const phases: [string, number][] = [];
      const { record, clientConfig } = await createCluster({
        ...options,
        progress: (line) => process.stdout.write(`[${stamp()}] ${line}\n`),
        phaseDone: (phase) => phases.push([phase, Date.now() - started]),
      });
      const path = plinthconfigPath(globalFlags(cmd).plinthconfig, processIo);
      const existing = await readPlinthconfig(path, { missingOk: true });
      const { [record.name]: _replaced, ...others } = existing.contexts;
      const merged = mergeClientConfig({ ...existing, contexts: others }, clientConfig).config;
      await writePlinthconfig(path, merged);
      process.stdout.write(
        `[${stamp()}] cluster ${record.name} is ready: ${record.nodes.length} nodes; context "${record.name}" merged into ${path}\n`,
      );
      if (flags.timings) process.stdout.write(renderTimings(phases, Date.now() - started));
    });

  group
    .command("destroy")
    .description("remove a local cluster: processes, namespaces, bridge and files (also after a crash)")
    .option("--name <name>", "cluster name", "demo")
    .action(async (flags: { name: string }) => {
      await requireClusterHost();
      await destroyCluster(flags.name, { progress: (l) => process.stdout.write(`${l}\n`) });
      process.stdout.write(`cluster ${flags.name} destroyed\n`);
    });

  group
    .command("show")
    .description("list the nodes of local clusters")
    .option("--name <name>", "only this cluster")
    .action(async (flags: { name?: string }) => {
      const records = flags.name
        ? [await readRecord(flags.name)].filter((r) => r !== undefined)
        : await listRecords();
      if (flags.name && records.length === 0)
        throw new PlinthError("not_found", `no cluster named ${flags.name}`);
      const rows: string[][] = [];
      const networks: string[] = [];
      for (const r of records) {
        for (const n of r.nodes) {
          const running = (await namespacePids(n.netns)).length > 0;
          const state = r.status === "running" && !running ? "down" : r.status;
          rows.push([r.name, n.name, n.role, n.ip, state, r.sites[n.site]?.name ?? "site-1"]);
        }
        networks.push(describeNetwork(r));
      }
      process.stdout.write(
        `${renderTable(["CLUSTER", "NODE", "ROLE", "ADDRESS", "STATE", "SITE"], rows)}\n\n${networks.join("\n")}\n`,
      );
    });
}
