import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { impersonatorRole } from "../api/auth/roles.ts";
import { createApiTransport } from "../api/client/api-transport.ts";
import { fromConnectError } from "../api/error-mapping.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import {
  type ClientConfig,
  contextTls,
  selectContext,
  stringifyClientConfig,
} from "../config/client-config.ts";
import { generateClientConfig } from "../config/generate/generate-client-config.ts";
import { generateMachineConfig } from "../config/generate/generate-machine-config.ts";
import { generateSecrets, type MachineSecretsDocument } from "../config/generate/generate-secrets.ts";
import { applyPatches, type ConfigPatch } from "../config/patch/config-patch.ts";
import { stringifyDocuments } from "../config/stringify-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { issueCert } from "../pki/index.ts";
import {
  createBridges,
  createDiscoveryNetwork,
  createNodeNetwork,
  createRouter,
  hostRoutes,
  linkExists,
  netnsExists,
} from "./cluster-network.ts";
import {
  type ClusterPlan,
  cidrsOverlap,
  type NodePlan,
  type PlanOptions,
  planCluster,
} from "./cluster-plan.ts";
import { type ClusterRecord, clusterDir, listRecords, readRecord, writeRecord } from "./cluster-record.ts";
import { destroyCluster } from "./destroy-cluster.ts";
import { launchDiscovery } from "./discovery-launcher.ts";
import { apiPort, launchNode, prepareNodeDirs } from "./node-launcher.ts";

export interface CreateClusterOptions extends PlanOptions {
  readonly patches?: readonly ConfigPatch[];
  readonly controlPlanePatches?: readonly ConfigPatch[];
  readonly workerPatches?: readonly ConfigPatch[];
  readonly waitTimeoutMs?: number;
  /** Progress lines for the user. */
  readonly progress?: (line: string) => void;
  /**
   * Called as each phase ends: "network", "nodes launched", "configs applied" (once each agent
   * answered in maintenance mode), "mTLS ready",
   * "etcd healthy" (`cluster create --timings`).
   */
  readonly phaseDone?: (phase: string) => void;
  readonly signal?: AbortSignal;
}

export interface CreatedCluster {
  readonly record: ClusterRecord;
  /** A client config holding the cluster's admin context. */
  readonly clientConfig: ClientConfig;
}

/** Refuses what would clash with existing clusters or networks, before anything is created. */
async function checkFree(plan: ClusterPlan): Promise<void> {
  if (await readRecord(plan.name)) {
    throw new PlinthError(
      "already_exists",
      `cluster ${plan.name} exists; run 'plinth cluster destroy --name ${plan.name}' first`,
    );
  }
  for (const other of await listRecords()) {
    if (cidrsOverlap(other.cidr, plan.cidr)) {
      throw new PlinthError(
        "already_exists",
        `--cidr ${plan.cidr} overlaps cluster ${other.name} (${other.cidr}); pick another network`,
      );
    }
  }
  for (const route of await hostRoutes()) {
    if (cidrsOverlap(route, plan.cidr)) {
      throw new PlinthError("already_exists", `--cidr ${plan.cidr} overlaps the host's network ${route}`);
    }
  }
  const links = [
    ...plan.sites.flatMap((s) => [s.bridge, ...(s.router ? [s.router.siteVeth, s.router.publicVeth] : [])]),
    ...(plan.public ? [plan.public.bridge] : []),
    ...(plan.discovery ? [plan.discovery.veth] : []),
    ...plan.nodes.map((n) => n.veth),
  ];
  for (const link of links) {
    if (await linkExists(link))
      throw new PlinthError("already_exists", `a link named ${link} exists already`);
  }
  const namespaces = [
    ...plan.nodes.map((n) => n.netns),
    ...plan.sites.flatMap((s) => (s.router ? [s.router.netns] : [])),
    ...(plan.discovery ? [plan.discovery.netns] : []),
  ];
  for (const netns of namespaces) {
    if (await netnsExists(netns))
      throw new PlinthError("already_exists", `network namespace ${netns} exists already`);
  }
}

export function insecureMachine(node: NodePlan) {
  const api = createApiTransport({ url: `https://${node.ip}:${apiPort}`, tls: { insecure: true } });
  return { client: createClient(MachineService, api.transport), close: api.close };
}

export async function until<T>(what: string, deadline: number, fn: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last ? `: ${fromConnectError(last).message}` : "";
      throw new PlinthError("deadline_exceeded", `timed out waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Machine configs for every node: the shared control-plane config, and per worker its own API certificate. */
export async function machineConfigs(
  plan: ClusterPlan,
  secrets: MachineSecretsDocument,
  options: Pick<CreateClusterOptions, "patches" | "controlPlanePatches" | "workerPatches">,
): Promise<Map<string, string>> {
  const cp1 = plan.nodes[0]!;
  const base = { clusterName: plan.name, endpoint: `https://${cp1.ip}:6443`, secrets };
  const patched = (type: "controlplane" | "worker") =>
    applyPatches(
      [...generateMachineConfig(type, base), ...meshDocuments(plan)],
      [
        ...(options.patches ?? []),
        ...((type === "controlplane" ? options.controlPlanePatches : options.workerPatches) ?? []),
      ],
    );
  const controlplane = stringifyDocuments(patched("controlplane"));
  const out = new Map<string, string>();
  for (const node of plan.nodes) {
    if (node.role === "controlplane") {
      out.set(
        node.name,
        node.meshPort ? stringifyDocuments(withMeshPort(patched("controlplane"), node)) : controlplane,
      );
      continue;
    }
    // Workers hold no CA key: the provisioner, which has the secrets, issues their certificates.
    const cert = await issueCert({
      ca: secrets.certs.api,
      subject: node.name,
      organization: [impersonatorRole],
      usage: "peer",
      sans: [node.ip, node.name, "127.0.0.1"],
    });
    const docs = patched("worker") as { kind?: string; trust?: Record<string, unknown> }[];
    for (const d of docs)
      if (d.kind === "MachineConfig") d.trust = { ...d.trust, certificate: { crt: cert.crt, key: cert.key } };
    out.set(node.name, stringifyDocuments(withMeshPort(docs, node)));
  }
  await writeFile(join(clusterDir(plan.name), "controlplane.yaml"), controlplane, { mode: 0o600 });
  return out;
}

/**
 * With the mesh: discovery at the cluster's own service (peers come from there) and the mesh on.
 * Before the patches, so that a patch can change them.
 */
function meshDocuments(plan: ClusterPlan): unknown[] {
  if (!plan.discovery) return [];
  return [
    { apiVersion: "v1alpha1", kind: "Discovery", enabled: true, endpoint: plan.discovery.url },
    { apiVersion: "v1alpha1", kind: "Mesh", enabled: true },
  ];
}

/** The node's own WireGuard port (nat topology), unless a patch already chose one. */
function withMeshPort(docs: unknown[], node: NodePlan): unknown[] {
  if (!node.meshPort) return docs;
  return docs.map((d) => {
    const doc = d as { kind?: string; port?: number };
    return doc.kind === "Mesh" && doc.port === undefined ? { ...doc, port: node.meshPort } : doc;
  });
}

/**
 * `plinth cluster create`: network, nodes, configs, and a cluster that answers on mTLS. Every
 * step is recorded first, so a failure or a crash leaves nothing `cluster destroy` cannot remove.
 */
export async function createCluster(options: CreateClusterOptions): Promise<CreatedCluster> {
  const say = options.progress ?? (() => {});
  const phaseDone = options.phaseDone ?? (() => {});
  const plan = planCluster(options);
  await checkFree(plan);
  const record: ClusterRecord = {
    ...plan,
    status: "creating",
    createdAt: new Date().toISOString(),
    pids: {},
  };
  await writeRecord(record);
  const dir = clusterDir(plan.name);
  const deadline = Date.now() + (options.waitTimeoutMs ?? 120_000);
  try {
    await createBridges(plan);
    for (const site of plan.sites) {
      await createRouter(plan, site);
      const router = site.router ? `, NAT router ${site.router.siteIp} -> ${site.router.publicIp}` : "";
      say(`network: ${site.name} ${site.cidr} on bridge ${site.bridge} (host ${site.hostIp}${router})`);
    }
    if (plan.public) say(`network: public ${plan.public.cidr} on bridge ${plan.public.bridge}`);
    if (plan.topology === "nat" && !plan.mesh) {
      say("note: without --with-mesh, nodes in different sites reach each other only through NAT");
    }
    if (plan.discovery) {
      await createDiscoveryNetwork(plan.discovery);
      record.discoveryPid = await launchDiscovery(dir, plan.discovery, { signal: options.signal });
      await writeRecord(record);
      say(`discovery: serving on ${plan.discovery.url}`);
    }
    phaseDone("network");
    // Copying /etc is most of a node's set-up: all nodes at once.
    await Promise.all(plan.nodes.map((node) => prepareNodeDirs(dir, node)));
    for (const node of plan.nodes) {
      await createNodeNetwork(plan, node);
      record.pids[node.name] = await launchNode(dir, node);
      await writeRecord(record);
      const where = plan.sites.length > 1 ? ` in ${plan.sites[node.site]!.name}` : "";
      say(`node ${node.name}: ${node.role} at ${node.ip}${where}, agent starting`);
    }
    phaseDone("nodes launched");

    const secrets = await generateSecrets();
    await writeFile(join(dir, "secrets.yaml"), stringifyDocuments([secrets]), { mode: 0o600 });
    const configs = await machineConfigs(plan, secrets, options);

    await Promise.all(
      plan.nodes.map(async (node) => {
        const m = insecureMachine(node);
        try {
          await until(`${node.name} to answer in maintenance mode`, deadline, async () =>
            (await m.client.version({})).messages[0]?.maintenance ? true : undefined,
          );
          await m.client.applyConfiguration({ data: new TextEncoder().encode(configs.get(node.name)!) });
          say(`node ${node.name}: config applied`);
        } finally {
          m.close();
        }
      }),
    );
    phaseDone("configs applied");

    const clientConfig = await generateClientConfig({
      contextName: plan.name,
      endpoints: plan.nodes.filter((n) => n.role === "controlplane").map((n) => n.ip),
      nodes: [plan.nodes[0]!.ip],
      ca: secrets.certs.api,
    });
    await writeFile(join(dir, "plinthconfig"), stringifyClientConfig(clientConfig), { mode: 0o600 });
    await waitReady(plan, clientConfig, deadline, say);
    phaseDone("mTLS ready");
    await bootstrapEtcd(plan, clientConfig, deadline, say);
    phaseDone("etcd healthy");
    if (plan.mesh) {
      await waitMesh(plan, clientConfig, deadline, say);
      phaseDone("mesh up");
    }

    record.status = "running";
    await writeRecord(record);
    return { record, clientConfig };
  } catch (err) {
    record.status = "failed";
    record.error = (err as Error).message;
    await writeRecord(record).catch(() => {});
    say(`failed: ${(err as Error).message}; removing what was created`);
    await destroyCluster(plan.name, { progress: say }).catch(() => {});
    throw err;
  }
}

/** Every node answers Version over mTLS with the admin certificate and is out of maintenance. */
async function waitReady(
  plan: ClusterPlan,
  clientConfig: ClientConfig,
  deadline: number,
  say: (line: string) => void,
): Promise<void> {
  await Promise.all(
    plan.nodes.map(async (node) => {
      await until(`${node.name} to answer over mTLS`, deadline, async () => {
        const m = adminMachine(node, clientConfig);
        try {
          const reply = (await m.client.version({})).messages[0];
          return reply && !reply.maintenance ? true : undefined;
        } finally {
          m.close();
        }
      });
      say(`node ${node.name}: ready (mTLS)`);
    }),
  );
}

function adminMachine(node: NodePlan, clientConfig: ClientConfig) {
  const { context } = selectContext(clientConfig);
  const api = createApiTransport({
    url: `https://${node.ip}:${apiPort}`,
    tls: contextTls(context),
  });
  return { client: createClient(MachineService, api.transport), close: api.close };
}

/**
 * Bootstraps etcd on the first control plane; the others join by themselves. Done when the
 * first control plane lists every control plane as a healthy member, one of them the leader.
 */
async function bootstrapEtcd(
  plan: ClusterPlan,
  clientConfig: ClientConfig,
  deadline: number,
  say: (line: string) => void,
): Promise<void> {
  const controlplanes = plan.nodes.filter((n) => n.role === "controlplane");
  const first = adminMachine(controlplanes[0]!, clientConfig);
  try {
    await first.client.bootstrap({});
    say(`etcd: bootstrapped on ${controlplanes[0]!.name}`);
    let reported = 0;
    await until("etcd members to be healthy", deadline, async () => {
      const members = (await first.client.etcdMemberList({})).messages[0]?.members ?? [];
      const healthy = members.filter((m) => m.healthy && !m.isLearner && m.name !== "");
      if (healthy.length > reported) {
        reported = healthy.length;
        say(`etcd: ${healthy.length}/${controlplanes.length} members healthy`);
      }
      return healthy.length === controlplanes.length && members.some((m) => m.isLeader) ? true : undefined;
    });
  } finally {
    first.close();
  }
}

/** With the mesh: every node has every other node as a peer that is up (MeshPeerStatus). */
async function waitMesh(
  plan: ClusterPlan,
  clientConfig: ClientConfig,
  deadline: number,
  say: (line: string) => void,
): Promise<void> {
  const { context } = selectContext(clientConfig);
  const apis = plan.nodes.map((node) =>
    createApiTransport({ url: `https://${node.ip}:${apiPort}`, tls: contextTls(context) }),
  );
  try {
    const clients = apis.map((api) => createClient(ResourceService, api.transport));
    let reported = -1;
    await until("every mesh peer to be up", deadline, async () => {
      let complete = 0;
      for (const [i, client] of clients.entries()) {
        const res = await client.list({ type: "MeshPeerStatus" }, { timeoutMs: 2000 });
        const up = new Set(
          (res.messages[0]?.resources ?? [])
            .map((r) => JSON.parse(new TextDecoder().decode(r.spec)) as { hostname: string; state: string })
            .filter((p) => p.state === "up")
            .map((p) => p.hostname),
        );
        if (plan.nodes.every((n, j) => i === j || up.has(n.name))) complete++;
      }
      if (complete !== reported) {
        reported = complete;
        say(`mesh: ${complete}/${plan.nodes.length} nodes have every peer up`);
      }
      return complete === plan.nodes.length ? true : undefined;
    });
  } finally {
    for (const api of apis) api.close();
  }
}
