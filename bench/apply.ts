// Apply benchmarks: a real `plinth agent --mode netns` inside a sandbox (private network, UTS and
// mount namespaces; needs root), driven over its machine API. Figures: from ApplyConfiguration of a
// change to the hostname, 10 sysctls and 10 files until every status shows it; from a change made
// behind the agent's back until the host is repaired; the agent's CPU while idle with 21 items.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { ConnectedHost } from "../src/agent/host/host-wire.ts";
import { ApplyMode } from "../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { WatchEventType } from "../src/api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../src/api/resource-wire.ts";
import { yamlOf } from "../src/config/testing/fixtures.ts";
import { type SandboxedAgent, startSandboxedAgent } from "../src/testing/sandboxed-agent.ts";
import { type BenchOptions, type Figure, percentile, printFigures, round } from "./harness.ts";

const applyRuns = 30;
const driftRuns = 24;
const idleMs = 5000;

/** Ten per-network-namespace sysctls that take 0 and 1. */
const sysctlKeys = [
  "accept_redirects",
  "send_redirects",
  "accept_source_route",
  "log_martians",
  "secure_redirects",
  "arp_filter",
  "proxy_arp",
  "bootp_relay",
  "arp_accept",
  "arp_notify",
].map((k) => `net.ipv4.conf.default.${k}`);
const filePaths = Array.from({ length: 10 }, (_, i) => `/etc/plinth-bench-${i}`);
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

interface Variant {
  readonly hostname: string;
  readonly sysctls: Record<string, string>;
  readonly files: Record<string, string>;
}

function variant(n: number): Variant {
  return {
    hostname: `bench-${n}`,
    sysctls: Object.fromEntries(sysctlKeys.map((k) => [k, String(n % 2)])),
    files: Object.fromEntries(filePaths.map((p) => [p, `run ${n}\n`])),
  };
}

function documents(v: Variant): unknown[] {
  return [
    { apiVersion: "v1alpha1", kind: "Hostname", hostname: v.hostname },
    { apiVersion: "v1alpha1", kind: "Sysctls", sysctls: v.sysctls },
    {
      apiVersion: "v1alpha1",
      kind: "Files",
      files: Object.entries(v.files).map(([path, content]) => ({ path, content })),
    },
  ];
}

/** The latest spec of every HostnameStatus, SysctlStatus and FileStatus, kept by three watches. */
function watchStatuses(a: SandboxedAgent, signal: AbortSignal) {
  const latest = new Map<string, Record<string, unknown>>();
  let changed: () => void = () => {};
  const ready: Promise<void>[] = [];
  for (const type of ["HostnameStatus", "SysctlStatus", "FileStatus"]) {
    ready.push(
      new Promise<void>((resolve, reject) => {
        void (async () => {
          try {
            for await (const m of a.resources.watch({ type, bootstrapContents: true }, { signal })) {
              if (m.eventType === WatchEventType.BOOTSTRAPPED) resolve();
              if (!m.resource) continue;
              const r = resourceFromWire(m.resource);
              const key = `${r.metadata.type}/${r.metadata.id}`;
              if (m.eventType === WatchEventType.DESTROYED) latest.delete(key);
              else latest.set(key, r.spec as Record<string, unknown>);
              changed();
            }
          } catch (err) {
            if (!signal.aborted) reject(err);
          }
        })();
      }),
    );
  }
  const converged = (v: Variant) => {
    const specs = [...latest.entries()];
    const host = specs.find(([k]) => k.startsWith("HostnameStatus/"))?.[1];
    if (host?.hostname !== v.hostname || host.etcHostname !== v.hostname) return false;
    for (const [key, value] of Object.entries(v.sysctls)) {
      const s = specs.find(([k, spec]) => k.startsWith("SysctlStatus/") && spec.key === key)?.[1];
      if (s?.observed !== value) return false;
    }
    for (const [path, content] of Object.entries(v.files)) {
      const s = specs.find(([k, spec]) => k.startsWith("FileStatus/") && spec.path === path)?.[1];
      if (s?.sha256 !== sha256(content)) return false;
    }
    return true;
  };
  return {
    ready: Promise.all(ready),
    until(v: Variant, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`statuses did not converge to ${v.hostname}`)),
          timeoutMs,
        );
        changed = () => {
          if (!converged(v)) return;
          clearTimeout(timer);
          changed = () => {};
          resolve();
        };
        changed();
      });
    },
  };
}

/** CPU seconds (user + system) the process has used, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One item changed behind the agent's back, each kind in turn; resolves when it is back. */
const tamperings: ((host: ConnectedHost, v: Variant, i: number) => Promise<() => Promise<boolean>>)[] = [
  async (host, v, i) => {
    const key = sysctlKeys[i % sysctlKeys.length]!;
    await host.writeSysctl(key, v.sysctls[key] === "1" ? "0" : "1");
    return async () => (await host.readSysctl(key)) === v.sysctls[key];
  },
  async (host, v, i) => {
    const path = filePaths[i % filePaths.length]!;
    await host.writeFileAtomic(path, "tampered\n");
    return async () => (await host.readFile(path)) === v.files[path];
  },
  async (host, v) => {
    await host.setHostname("intruder");
    return async () => (await host.hostname()) === v.hostname;
  },
];

export async function applyBench(_options: BenchOptions): Promise<Record<string, number>> {
  const a = await startSandboxedAgent({ name: "bench-apply" });
  const ac = new AbortController();
  let host: ConnectedHost | undefined;
  try {
    // Started first: it checks that it runs inside by the sandbox's own hostname.
    host = await a.box.startHost();
    const statuses = watchStatuses(a, ac.signal);
    await statuses.ready;
    const apply = (v: Variant) =>
      a.machine.applyConfiguration({
        data: new TextEncoder().encode(yamlOf(...a.baseDocuments, ...documents(v))),
        mode: ApplyMode.AUTO,
      });

    // Apply to converged: every run changes all 21 items.
    const applySamples: number[] = [];
    const replySamples: number[] = [];
    let cpuStart = 0;
    for (let n = 0; n < applyRuns + 2; n++) {
      if (n === 2) cpuStart = await cpuSeconds(a.pid);
      const v = variant(n);
      const start = performance.now();
      await apply(v);
      const replied = performance.now() - start;
      await statuses.until(v);
      if (n < 2) continue; // the first runs create everything
      applySamples.push(performance.now() - start);
      replySamples.push(replied);
    }
    const cpuPerApplyMs = (((await cpuSeconds(a.pid)) - cpuStart) * 1000) / applyRuns;

    // Idle: the drift checks alone.
    const idleVariant = variant(applyRuns + 2);
    await apply(idleVariant);
    await statuses.until(idleVariant);
    const cpuBefore = await cpuSeconds(a.pid);
    await new Promise((r) => setTimeout(r, idleMs));
    const idleCpuPercent = (((await cpuSeconds(a.pid)) - cpuBefore) / (idleMs / 1000)) * 100;

    // Drift repair, measured on the host: from the change until the value is back.
    const driftSamples: number[] = [];
    for (let i = 0; i < driftRuns; i++) {
      // A random phase against the agent's drift checks.
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      const start = performance.now();
      const repaired = await tamperings[i % tamperings.length]!(host!, idleVariant, i);
      for (;;) {
        if (await repaired()) break;
        if (performance.now() - start > 15_000) throw new Error(`drift ${i} was not repaired within 15 s`);
        await new Promise((r) => setTimeout(r, 2));
      }
      driftSamples.push(performance.now() - start);
    }

    const figures: Figure[] = [
      {
        key: "applyToConvergedP50Ms",
        label: "apply → converged p50 (hostname + 10 sysctls + 10 files)",
        value: round(percentile(applySamples, 50), 1),
        unit: "ms",
        target: { value: 100, higherIsBetter: false },
      },
      {
        key: "applyToConvergedP99Ms",
        label: "apply → converged p99",
        value: round(percentile(applySamples, 99), 1),
        unit: "ms",
      },
      {
        key: "applyReplyP50Ms",
        label: "ApplyConfiguration reply p50 (validate, diff, store)",
        value: round(percentile(replySamples, 50), 1),
        unit: "ms",
      },
      {
        key: "applyAgentCpuMs",
        label: "agent CPU per apply (all controllers, API, drift checks)",
        value: round(cpuPerApplyMs, 1),
        unit: "ms",
      },
      {
        key: "driftRepairP50Ms",
        label: "drift → repaired p50 (sysctl, file, hostname)",
        value: round(percentile(driftSamples, 50), 1),
        unit: "ms",
        target: { value: 1000, higherIsBetter: false },
      },
      {
        key: "driftRepairP99Ms",
        label: "drift → repaired p99",
        value: round(percentile(driftSamples, 99), 1),
        unit: "ms",
      },
      {
        key: "driftCheckIdleCpuPercent",
        label: "agent CPU while idle (drift checks of 21 items every 1 s)",
        value: round(idleCpuPercent, 2),
        unit: "%",
      },
    ];
    printFigures("apply (agent in a sandbox)", figures);
    return Object.fromEntries(figures.map((f) => [f.key, f.value]));
  } finally {
    ac.abort();
    host?.close();
    await a.stop();
  }
}
