import type { Client } from "@connectrpc/connect";
import type { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import type { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../api/resource-wire.ts";
import type { HealthProgress } from "./health-progress.ts";
import { meshPeersCheck } from "./mesh-check.ts";
import { defaultMinimums, formatBytes, type ResourceMinimums } from "./minimums.ts";

/** A node to check, with how to reach its API. */
export interface HealthNode {
  readonly address: string;
  readonly role: "controlplane" | "worker";
  readonly machine: Client<typeof MachineService>;
  readonly resources: Client<typeof ResourceService>;
}

export interface CheckResult {
  readonly ok: boolean;
  /** What was found, for the progress line. */
  readonly detail: string;
}

export interface HealthCheck {
  readonly name: string;
  run(nodes: readonly HealthNode[], signal: AbortSignal): Promise<CheckResult>;
}

const errorOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function eachNode<T>(
  nodes: readonly HealthNode[],
  fn: (n: HealthNode) => Promise<T>,
): Promise<{ node: HealthNode; value?: T; error?: string }[]> {
  return Promise.all(
    nodes.map(async (node) => {
      try {
        return { node, value: await fn(node) };
      } catch (err) {
        return { node, error: errorOf(err) };
      }
    }),
  );
}

function verdict(failures: readonly string[], okDetail: string): CheckResult {
  return failures.length === 0 ? { ok: true, detail: okDetail } : { ok: false, detail: failures.join("; ") };
}

const controlPlanes = (nodes: readonly HealthNode[]) => nodes.filter((n) => n.role === "controlplane");

/** The specs of one resource type on a node (the runtime namespace's, by default). */
async function specsOf<S>(
  node: HealthNode,
  type: string,
  signal: AbortSignal,
): Promise<{ id: string; spec: S }[]> {
  const res = await node.resources.list({ namespace: "runtime", type }, { signal });
  return (res.messages[0]?.resources ?? []).map((r) => {
    const x = resourceFromWire(r);
    return { id: x.metadata.id, spec: x.spec as S };
  });
}

interface SystemResourcesSpec {
  memoryAvailableBytes: number;
  diskAvailableBytes: number;
  diskPath: string;
}

interface DiagnosticSpec {
  severity: string;
  message: string;
}

/** Free memory and disk on every node, as its SystemResources reports them. */
function resourcesCheck(minimums: ResourceMinimums): HealthCheck {
  return {
    name: `every node has ${formatBytes(minimums.memoryBytes)} of memory and ${formatBytes(minimums.diskBytes)} of disk free`,
    async run(nodes, signal) {
      const r = await eachNode(nodes, (n) => specsOf<SystemResourcesSpec>(n, "SystemResources", signal));
      const failures = r.flatMap((x) => {
        if (x.error) return [`${x.node.address}: ${x.error}`];
        const s = x.value?.[0]?.spec;
        if (!s) return [`${x.node.address}: reports no SystemResources yet`];
        return [
          ...(s.memoryAvailableBytes < minimums.memoryBytes
            ? [`${x.node.address}: ${formatBytes(s.memoryAvailableBytes)} of memory available`]
            : []),
          ...(s.diskAvailableBytes < minimums.diskBytes
            ? [`${x.node.address}: ${formatBytes(s.diskAvailableBytes)} free for ${s.diskPath}`]
            : []),
        ];
      });
      const least = (key: "memoryAvailableBytes" | "diskAvailableBytes") =>
        formatBytes(Math.min(...r.map((x) => x.value?.[0]?.spec[key] ?? Number.POSITIVE_INFINITY)));
      return verdict(
        failures,
        `least memory free ${least("memoryAvailableBytes")}, least disk free ${least("diskAvailableBytes")}`,
      );
    },
  };
}

const diagnosticsCheck: HealthCheck = {
  name: "no node reports a diagnostic",
  async run(nodes, signal) {
    const r = await eachNode(nodes, (n) => specsOf<DiagnosticSpec>(n, "Diagnostic", signal));
    const failures = r.flatMap((x) =>
      x.error
        ? [`${x.node.address}: ${x.error}`]
        : (x.value ?? []).map((d) => `${x.node.address}: ${d.id}: ${d.spec.message}`),
    );
    return verdict(failures, "none");
  },
};

/** The checks of `plinth health`, in the order they run. */
export function healthChecks(options: { minimums?: ResourceMinimums } = {}): readonly HealthCheck[] {
  const [api, etcd, members, services] = baseChecks;
  return [
    api!,
    etcd!,
    members!,
    resourcesCheck(options.minimums ?? defaultMinimums),
    diagnosticsCheck,
    services!,
    meshPeersCheck,
  ];
}

const baseChecks: readonly HealthCheck[] = [
  {
    name: "every node's API answers with the client certificate",
    async run(nodes, signal) {
      const r = await eachNode(nodes, (n) => n.machine.version({}, { signal }));
      const failures = r.flatMap((x) =>
        x.error
          ? [`${x.node.address}: ${x.error}`]
          : x.value?.messages[0]?.maintenance
            ? [`${x.node.address}: in maintenance mode`]
            : [],
      );
      return verdict(failures, `${nodes.length} nodes`);
    },
  },
  {
    name: "etcd is healthy on every control plane",
    async run(nodes, signal) {
      const r = await eachNode(controlPlanes(nodes), (n) => n.machine.etcdStatus({}, { signal }));
      const failures = r.flatMap((x) => {
        if (x.error) return [`${x.node.address}: ${x.error}`];
        const st = x.value?.messages[0]?.memberStatus;
        if (!st) return [`${x.node.address}: no etcd status`];
        if (st.errors.length > 0) return [`${x.node.address}: ${st.errors.join(", ")}`];
        if (!st.leader || st.leader === "0") return [`${x.node.address}: no leader`];
        return [];
      });
      return verdict(failures, `${controlPlanes(nodes).length} members`);
    },
  },
  {
    name: "etcd member lists agree, members are exactly the control planes, one leader",
    async run(nodes, signal) {
      const cps = controlPlanes(nodes);
      const r = await eachNode(cps, (n) => n.machine.etcdMemberList({}, { signal }));
      const failures: string[] = [];
      const lists = new Map<string, string>();
      for (const x of r) {
        if (x.error) {
          failures.push(`${x.node.address}: ${x.error}`);
          continue;
        }
        const members = x.value?.messages[0]?.members ?? [];
        lists.set(
          x.node.address,
          members
            .map((m) => m.id)
            .sort()
            .join(","),
        );
        const hosts = members.flatMap((m) => m.peerUrls.map((u) => new URL(u).hostname)).sort();
        const expected = cps.map((n) => n.address).sort();
        if (hosts.join(",") !== expected.join(",")) {
          failures.push(
            `${x.node.address} lists members at ${hosts.join(", ") || "none"}, control planes are ${expected.join(", ")}`,
          );
        }
        const leaders = members.filter((m) => m.isLeader).length;
        if (leaders !== 1) failures.push(`${x.node.address} sees ${leaders} leaders`);
      }
      if (new Set(lists.values()).size > 1) {
        failures.push(`member lists differ: ${[...lists].map(([a, l]) => `${a}=[${l}]`).join(" ")}`);
      }
      return verdict(failures, `${cps.length} members, one leader`);
    },
  },
  {
    name: "every node's services are running and healthy",
    async run(nodes, signal) {
      const r = await eachNode(nodes, (n) => n.machine.serviceList({}, { signal }));
      const failures = r.flatMap((x) => {
        if (x.error) return [`${x.node.address}: ${x.error}`];
        return (x.value?.messages[0]?.services ?? []).flatMap((s) =>
          s.state !== "running" || (s.health && !s.health.unknown && !s.health.healthy)
            ? [
                `${x.node.address}: service ${s.id} is ${s.state}${s.health?.lastMessage ? ` (${s.health.lastMessage})` : ""}`,
              ]
            : [],
        );
      });
      return verdict(failures, "all running");
    },
  },
];

/**
 * Runs the checks in order; a failing check is retried until it passes or the deadline comes,
 * and the later checks wait for it. Yields each attempt's outcome when it differs from the last,
 * then a last message saying whether all passed.
 */
export async function* healthProgress(
  nodes: readonly HealthNode[],
  options: { deadline: number; minimums?: ResourceMinimums; signal?: AbortSignal },
): AsyncGenerator<HealthProgress> {
  const signal = options.signal ?? new AbortController().signal;
  const checks = healthChecks(options.minimums ? { minimums: options.minimums } : {});
  for (const check of checks) {
    let last = "";
    for (;;) {
      signal.throwIfAborted();
      const result = await check.run(nodes, AbortSignal.any([signal, AbortSignal.timeout(5000)]));
      const timedOut = Date.now() > options.deadline;
      const final = result.ok || timedOut;
      if (final || result.detail !== last) {
        yield { check: check.name, ok: result.ok, final, detail: result.detail, done: false, healthy: false };
      }
      if (result.ok) break;
      if (timedOut) {
        yield { check: "", ok: false, final: true, detail: "", done: true, healthy: false };
        return;
      }
      last = result.detail;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  yield { check: "", ok: true, final: true, detail: "", done: true, healthy: true };
}

/** Runs the checks (see healthProgress), reporting each attempt; true when all passed. */
export async function runHealth(
  nodes: readonly HealthNode[],
  options: {
    deadline: number;
    minimums?: ResourceMinimums;
    report: (check: string, result: CheckResult, final: boolean) => void;
    signal?: AbortSignal;
  },
): Promise<boolean> {
  for await (const p of healthProgress(nodes, options)) {
    if (p.done) return p.healthy;
    options.report(p.check, { ok: p.ok, detail: p.detail }, p.final);
  }
  return false;
}
