import type { Client } from "@connectrpc/connect";
import type { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";

/** A node to check, with how to reach its API. */
export interface HealthNode {
  readonly address: string;
  readonly role: "controlplane" | "worker";
  readonly machine: Client<typeof MachineService>;
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

/** The checks of `plinth health`, in the order they run. */
export const healthChecks: readonly HealthCheck[] = [
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
 * and the later checks wait for it. Reports each attempt's outcome.
 */
export async function runHealth(
  nodes: readonly HealthNode[],
  options: {
    deadline: number;
    report: (check: string, result: CheckResult, final: boolean) => void;
    signal?: AbortSignal;
  },
): Promise<boolean> {
  const signal = options.signal ?? new AbortController().signal;
  for (const check of healthChecks) {
    let last = "";
    for (;;) {
      const result = await check.run(nodes, AbortSignal.any([signal, AbortSignal.timeout(5000)]));
      const timedOut = Date.now() > options.deadline;
      if (result.ok || timedOut || result.detail !== last)
        options.report(check.name, result, result.ok || timedOut);
      if (result.ok) break;
      if (timedOut) return false;
      last = result.detail;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return true;
}
