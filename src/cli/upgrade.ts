import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import type { Command } from "commander";
import { createApiTransport } from "../api/client/api-transport.ts";
import { nodeUrl } from "../api/fanout/node-address.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../api/resource-wire.ts";
import { parseDuration } from "../config/duration.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { type HealthNode, runHealth } from "../health/health-checks.ts";
import { listRecords } from "../provision/cluster-record.ts";
import { createBundle, verifyBundle } from "../upgrade/bundle.ts";
import { type NodeOutcome, type RollingNode, rollingUpgrade } from "../upgrade/rolling.ts";
import { writeFileAtomic } from "../upgrade/slots.ts";
import { processIo } from "./cli-io.ts";
import { globalFlags } from "./client/global-flags.ts";
import { cleanMessage, describeRemoteError } from "./client/remote-call.ts";
import { defaultApiPort, loadCredentials } from "./client/session.ts";
import { printWarnings, warnForce } from "./etcd.ts";

/** The API's 4 MiB message limit, less room for the rest of the request. */
const maxBundleBytes = 4 * 1024 * 1024 - 4096;

/** The checkout (or slot) this CLI runs from: what `bundle create` packs. */
const ownRoot = fileURLToPath(new URL("../..", import.meta.url));

function durationFlag(value: string, flag: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1000) {
    throw new PlinthError(
      "invalid_argument",
      `${flag} must be a duration of at least 1s, like 90s or 2m, current value is '${value}'`,
    );
  }
  return ms;
}

/** The bundle's bytes, from a file or an http(s) URL. */
async function loadBundle(source: string): Promise<Uint8Array> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source).catch((err: Error) => {
      throw new PlinthError("unavailable", `--bundle: cannot fetch ${source}: ${err.message}`, {
        cause: err,
      });
    });
    if (!res.ok) throw new PlinthError("unavailable", `--bundle: ${source} answered HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return readFile(source).catch((err: Error) => {
    throw new PlinthError("not_found", `--bundle: cannot read ${source}: ${err.message}`, { cause: err });
  });
}

interface NodeApi {
  readonly machine: ReturnType<typeof createClient<typeof MachineService>>;
  readonly resources: ReturnType<typeof createClient<typeof ResourceService>>;
  close(): void;
}

interface UpgradeStatusSpec {
  upgradeId: string;
  fromVersion: string;
  toVersion: string;
  state: "staged" | "trying" | "done" | "rolled_back";
  error: string;
  lastCheck: string;
}

async function specOf<S>(
  api: NodeApi,
  type: string,
  id: string,
  signal: AbortSignal,
): Promise<S | undefined> {
  const res = await api.resources.get({ type, id, namespace: "runtime" }, { signal });
  const r = res.messages[0]?.resource;
  return r ? (resourceFromWire(r).spec as S) : undefined;
}

/**
 * Waits until the node's UpgradeStatus says how upgrade `id` ended. The agent restarts in
 * between: failed calls are expected for a while.
 */
async function waitForOutcome(
  api: NodeApi,
  address: string,
  id: string,
  deadline: number,
): Promise<NodeOutcome> {
  let said = "";
  const say = (line: string) => {
    if (line !== said) process.stdout.write(`${address}: ${line}\n`);
    said = line;
  };
  for (;;) {
    try {
      const st = await specOf<UpgradeStatusSpec>(api, "UpgradeStatus", "agent", AbortSignal.timeout(3000));
      if (st && st.upgradeId === id) {
        if (st.state === "done") return { ok: true, detail: `upgraded ${st.fromVersion} → ${st.toVersion}` };
        if (st.state === "rolled_back") {
          return { ok: false, detail: `rolled back to ${st.fromVersion}: ${st.error}` };
        }
        say(
          `new agent ${st.toVersion} running, waiting for it to be healthy${st.lastCheck ? ` (${st.lastCheck})` : ""}`,
        );
      } else say("agent restarting");
    } catch {
      say("agent restarting");
    }
    if (Date.now() > deadline) {
      return { ok: false, detail: `no outcome within the wait: the node's UpgradeStatus still says ${said}` };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * What the health checks between two nodes look at: the whole local cluster named like the
 * context when there is one (as `plinth health` does); otherwise the nodes being upgraded and
 * every etcd member's host, since the checks compare the members with the control planes.
 */
async function healthTargets(
  nodes: readonly RollingNode[],
  contextName: string,
  api: (address: string) => NodeApi,
): Promise<HealthNode[]> {
  const local = (await listRecords()).find((r) => r.name === contextName);
  const targets = new Map<string, HealthNode["role"]>();
  if (local) {
    for (const n of local.nodes) targets.set(n.ip, n.role === "controlplane" ? "controlplane" : "worker");
  } else {
    for (const n of nodes) if (n.role !== "unknown") targets.set(n.address, n.role);
    const cp = nodes.find((n) => n.role === "controlplane");
    if (cp) {
      const res = await api(cp.address).machine.etcdMemberList({}, { signal: AbortSignal.timeout(10_000) });
      for (const m of res.messages[0]?.members ?? []) {
        for (const u of m.peerUrls) {
          const host = new URL(u).hostname;
          if (![...targets.keys()].some((t) => t === host || t.startsWith(`${host}:`)))
            targets.set(host, "controlplane");
        }
      }
    }
  }
  return [...targets].map(([address, role]) => ({
    address,
    role,
    machine: api(address).machine,
    resources: api(address).resources,
  }));
}

interface UpgradeFlags {
  bundle?: string;
  stage?: boolean;
  timeout?: string;
  force?: boolean;
  healthTimeout: string;
}

export function registerUpgrade(program: Command): void {
  program
    .command("bundle")
    .description("agent bundles: the agent's code with a manifest, for `plinth upgrade`")
    .command("create")
    .description("pack the agent this CLI runs from (bin/, src/, package.json) into a bundle")
    .requiredOption("--out <file>", "where to write the bundle (a .tar.gz)")
    .option("--version <version>", "the version the bundle's agent reports (default: package.json's)")
    .action(async (flags: { out: string; version?: string }) => {
      const { archive, manifest } = await createBundle({
        root: ownRoot,
        ...(flags.version !== undefined ? { version: flags.version } : {}),
      });
      await writeFileAtomic(resolve(flags.out), archive);
      const files = Object.keys(manifest.files).length;
      process.stdout.write(
        `bundle ${manifest.version}: ${files} files, ${archive.length} bytes, written to ${flags.out}\n`,
      );
    });

  program
    .command("upgrade")
    .description(
      "install an agent bundle on the target nodes, one at a time (control planes first), rolled back on a node where the new agent is not healthy",
    )
    .requiredOption("--bundle <path|url>", "the bundle (`plinth bundle create`), a file or an http(s) URL")
    .option("--stage", "install now, switch at the next reboot")
    .option(
      "--timeout <duration>",
      "how long the new agent has to become healthy (default: the config's install.healthTimeout)",
    )
    .option(
      "--health-timeout <duration>",
      "how long to wait for the cluster to be healthy between nodes",
      "2m",
    )
    .option("--force", "upgrade a control plane even when etcd could lose its quorum (loudly)")
    .action(async (flags: UpgradeFlags, cmd: Command) => {
      const timeoutMs = flags.timeout !== undefined ? durationFlag(flags.timeout, "--timeout") : undefined;
      const healthMs = durationFlag(flags.healthTimeout, "--health-timeout");
      const bundle = await loadBundle(flags.bundle!);
      // Checked here too, so that a damaged file is refused before any node is touched.
      const { manifest } = verifyBundle(bundle);
      if (bundle.length > maxBundleBytes) {
        throw new PlinthError(
          "invalid_argument",
          `--bundle: ${flags.bundle} is ${bundle.length} bytes; the machine API accepts up to ${maxBundleBytes} (a bundle holds no node_modules)`,
        );
      }
      if (flags.force) warnForce("upgrading");
      const gf = globalFlags(cmd);
      const creds = await loadCredentials(gf, processIo);
      const endpoints = gf.endpoints ?? creds.endpoints;
      const addresses = [...(gf.nodes ?? (creds.nodes.length > 0 ? creds.nodes : endpoints.slice(0, 1)))];
      if (addresses.length === 0) {
        throw new PlinthError(
          "invalid_argument",
          "upgrade: name the nodes with -n/--nodes (or set an endpoint)",
        );
      }
      const apis = new Map<string, NodeApi>();
      const api = (address: string): NodeApi => {
        let a = apis.get(address);
        if (!a) {
          const t = createApiTransport({ url: nodeUrl(address, defaultApiPort), tls: creds.tls });
          a = {
            machine: createClient(MachineService, t.transport),
            resources: createClient(ResourceService, t.transport),
            close: () => t.close(),
          };
          apis.set(address, a);
        }
        return a;
      };
      const session = (address: string) => ({
        endpoint: nodeUrl(address, defaultApiPort),
        identity: creds.identity,
      });
      try {
        const nodes: RollingNode[] = [];
        for (const address of addresses) {
          const st = await specOf<{ machineType: RollingNode["role"] }>(
            api(address),
            "MachineStatus",
            "machine",
            AbortSignal.timeout(10_000),
          ).catch((err) => {
            throw describeRemoteError(err, session(address));
          });
          nodes.push({ address, role: st?.machineType ?? "unknown" });
        }
        process.stdout.write(
          `upgrading ${nodes.length} node${nodes.length === 1 ? "" : "s"} to ${manifest.version}${flags.stage ? " (staged)" : ""}\n`,
        );
        const healthNodes = flags.stage ? [] : await healthTargets(nodes, creds.contextName, api);
        const result = await rollingUpgrade({
          nodes,
          async upgrade(node) {
            const res = await api(node.address)
              .machine.upgrade({
                bundle,
                stage: !!flags.stage,
                force: !!flags.force,
                ...(timeoutMs !== undefined ? { timeout: durationFromMs(timeoutMs) } : {}),
              })
              .catch((err) => {
                throw describeRemoteError(err, session(node.address));
              });
            const r = res.messages[0]!;
            printWarnings(node.address, r.warnings);
            if (r.staged) return { ok: true, detail: `${r.toVersion} staged for the next reboot` };
            process.stdout.write(
              `${node.address}: installed ${r.toVersion} (was ${r.fromVersion}), agent restarting\n`,
            );
            // The node gives the new agent its timeout; this waits a little longer for the verdict.
            const waitMs = (timeoutMs ?? 120_000) + 60_000;
            return waitForOutcome(api(node.address), node.address, r.upgradeId, Date.now() + waitMs);
          },
          async healthy(before) {
            if (flags.stage) return { ok: true, detail: "" };
            process.stdout.write(`checking cluster health before ${before.address}\n`);
            let last = "";
            const ok = await runHealth(healthNodes, {
              deadline: Date.now() + healthMs,
              report: (check, r, final) => {
                if (r.ok) return;
                last = `${check}: ${cleanMessage(r.detail)}`;
                process.stdout.write(`  ${final ? "FAIL" : "waiting"} ${last}\n`);
              },
            });
            return { ok, detail: last };
          },
        });
        for (const { node, outcome } of result.outcomes) {
          process.stdout.write(
            `${outcome.ok ? "OK  " : "FAIL"} ${node.address}: ${cleanMessage(outcome.detail)}\n`,
          );
        }
        if (!result.ok) {
          process.stderr.write(`plinth: upgrade stopped: ${cleanMessage(result.stoppedBecause ?? "")}\n`);
          process.exitCode = 1;
        }
      } finally {
        for (const a of apis.values()) a.close();
      }
    });
}
