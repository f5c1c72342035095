import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceToWire } from "../api/resource-wire.ts";
import { newResource } from "../runtime/resource/resource.ts";
import { type HealthNode, healthChecks, healthProgress } from "./health-checks.ts";
import type { HealthProgress } from "./health-progress.ts";

const mib = 1024 * 1024;

interface FakeNode {
  address: string;
  memoryMiB?: number;
  diskMiB?: number;
  diagnostics?: Record<string, string>;
}

/** A control plane answering from memory: one etcd member (itself, leader), one running service. */
function node(f: FakeNode): HealthNode {
  const transport = createRouterTransport(({ service }) => {
    service(MachineService, {
      version: () => ({ messages: [{ version: { tag: "t" }, maintenance: false }] }),
      etcdStatus: () => ({ messages: [{ memberStatus: { memberId: "1", leader: "1" } }] }),
      etcdMemberList: () => ({
        messages: [
          {
            members: [{ id: "1", isLeader: true, healthy: true, peerUrls: [`https://${f.address}:2380`] }],
          },
        ],
      }),
      serviceList: () => ({ messages: [{ services: [{ id: "etcd", state: "running" }] }] }),
    });
    service(ResourceService, {
      list: (req) => {
        const resources =
          req.type === "SystemResources" && f.memoryMiB !== undefined
            ? [
                newResource(
                  { namespace: "runtime", type: "SystemResources", id: "system" },
                  {
                    memoryAvailableBytes: f.memoryMiB * mib,
                    memoryTotalBytes: 4096 * mib,
                    diskAvailableBytes: (f.diskMiB ?? 1000) * mib,
                    diskTotalBytes: 9000 * mib,
                    diskPath: "/var/lib/plinth",
                  },
                ),
              ]
            : req.type === "Diagnostic"
              ? Object.entries(f.diagnostics ?? {}).map(([id, message]) =>
                  newResource(
                    { namespace: "runtime", type: "Diagnostic", id },
                    { severity: "error", message, details: [] },
                  ),
                )
              : [];
        return { messages: [{ resources: resources.map(resourceToWire) }] };
      },
    });
  });
  return {
    address: f.address,
    role: "controlplane",
    machine: createClient(MachineService, transport),
    resources: createClient(ResourceService, transport),
  };
}

const signal = () => AbortSignal.timeout(5000);
const minimums = { memoryBytes: 100 * mib, diskBytes: 200 * mib };

async function collect(nodes: HealthNode[], deadline: number): Promise<HealthProgress[]> {
  const out: HealthProgress[] = [];
  for await (const p of healthProgress(nodes, { deadline, minimums })) out.push(p);
  return out;
}

describe("health checks", () => {
  it("run in the order of the issue: API, etcd, members, memory and disk, diagnostics, services (then later ones)", () => {
    assert.deepEqual(
      healthChecks({ minimums })
        .slice(0, 6)
        .map((c) => c.name),
      [
        "every node's API answers with the client certificate",
        "etcd is healthy on every control plane",
        "etcd member lists agree, members are exactly the control planes, one leader",
        "every node has 100 MiB of memory and 200 MiB of disk free",
        "no node reports a diagnostic",
        "every node's services are running and healthy",
      ],
    );
  });

  it("memory and disk: each node below a minimum is named with what it has", async () => {
    const check = healthChecks({ minimums })[3]!;
    const ok = await check.run([node({ address: "10.5.0.2", memoryMiB: 300 })], signal());
    assert.deepEqual(ok, { ok: true, detail: "least memory free 300 MiB, least disk free 1000 MiB" });
    const low = await check.run(
      [
        node({ address: "10.5.0.2", memoryMiB: 300 }),
        node({ address: "10.5.0.3", memoryMiB: 50, diskMiB: 150 }),
        node({ address: "10.5.0.4" }),
      ],
      signal(),
    );
    assert.equal(low.ok, false);
    assert.equal(
      low.detail,
      "10.5.0.3: 50 MiB of memory available; 10.5.0.3: 150 MiB free for /var/lib/plinth; 10.5.0.4: reports no SystemResources yet",
    );
  });

  it("diagnostics: every diagnostic of every node is named", async () => {
    const check = healthChecks()[4]!;
    assert.deepEqual(await check.run([node({ address: "10.5.0.2" })], signal()), {
      ok: true,
      detail: "none",
    });
    const r = await check.run(
      [
        node({
          address: "10.5.0.2",
          diagnostics: { "service-crash-loop-web": "service web is crash-looping" },
        }),
        node({ address: "10.5.0.3", diagnostics: { "low-disk": "10 MiB free" } }),
      ],
      signal(),
    );
    assert.equal(r.ok, false);
    assert.equal(
      r.detail,
      "10.5.0.2: service-crash-loop-web: service web is crash-looping; 10.5.0.3: low-disk: 10 MiB free",
    );
  });

  it("progress: every check passes on a healthy node, and the last message says so", async () => {
    const out = await collect([node({ address: "10.5.0.2", memoryMiB: 500 })], Date.now() + 5000);
    const checks = healthChecks().length;
    assert.equal(out.length, checks + 1);
    assert.ok(out.slice(0, checks).every((p) => p.ok && p.final && !p.done));
    assert.deepEqual(out.at(-1), { check: "", ok: true, final: true, detail: "", done: true, healthy: true });
  });

  it("progress: a diagnostic fails its check at the deadline, the later checks do not run", async () => {
    const out = await collect(
      [node({ address: "10.5.0.2", memoryMiB: 500, diagnostics: { "clock-skew": "clock is off" } })],
      Date.now() + 700,
    );
    const last = out.filter((p) => p.check === "no node reports a diagnostic").at(-1);
    assert.deepEqual(
      { ok: last?.ok, final: last?.final, detail: last?.detail },
      { ok: false, final: true, detail: "10.5.0.2: clock-skew: clock is off" },
    );
    assert.ok(!out.some((p) => p.check.startsWith("every node's services")));
    assert.deepEqual(out.at(-1), {
      check: "",
      ok: false,
      final: true,
      detail: "",
      done: true,
      healthy: false,
    });
  });
});
