// The API balancer end to end: a real agent in a sandbox balancing to two control planes (TCP
// echo servers on 10.5.0.2 and 10.5.0.3 inside the sandbox): the endpoint from its ClusterConfig,
// and a second one it finds through a discovery service. Watched through `plinth get apibalancer`
// as a user would, with failover, a switch of data path and removal.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ApplyMode } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import {
  type SandboxedBalancer,
  startSandboxedBalancer,
} from "../../src/balancer/testing/sandboxed-balancer.ts";
import { yamlOf } from "../../src/config/testing/fixtures.ts";
import { findBinary } from "../../src/doctor/doctor.ts";
import { plinthBin } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { type SandboxedAgent, startSandboxedAgent } from "../../src/testing/sandboxed-agent.ts";

interface UpstreamView {
  readonly address: string;
  readonly health: string;
}
interface StatusView {
  readonly listen: string;
  readonly dataPath: string;
  readonly healthyUpstreams: number;
  readonly upstreams: UpstreamView[];
}

const endpointCp = "10.5.0.2:6443";
const discoveredCp = "10.5.0.3:6443";
const publisher = fileURLToPath(new URL("./support/publish-affiliate.ts", import.meta.url));

describe("API balancer in an agent", () => {
  let agent: SandboxedAgent;
  let probe: SandboxedBalancer;
  let published: ChildProcess | undefined;

  const balancer = (dataPath: string, enabled = true) => ({
    apiVersion: "v1alpha1",
    kind: "APIBalancer",
    enabled,
    dataPath,
    healthCheck: { interval: "500ms", timeout: "250ms" },
  });
  const apply = async (...extra: unknown[]) => {
    const discovery = {
      apiVersion: "v1alpha1",
      kind: "Discovery",
      endpoint: "http://127.0.0.1:3000",
      ttl: "1m",
    };
    await agent.machine.applyConfiguration({
      data: new TextEncoder().encode(yamlOf(...agent.baseDocuments, discovery, ...extra)),
      mode: ApplyMode.AUTO,
    });
  };
  const status = async (): Promise<StatusView | undefined> => {
    const r = await agent.cli(["get", "apibalancer", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    if (!r.stdout.trim()) return undefined;
    return (JSON.parse(r.stdout) as { spec: StatusView }).spec;
  };
  const healthOf = (s: StatusView | undefined, address: string) =>
    s?.upstreams.find((u) => u.address === address)?.health;
  const answers = async (count: number) => probe.call<string[]>("requests", { port: 7445, count });
  const nftRuleset = async () => (await agent.box.exec("nft", ["list", "ruleset"])).stdout;

  before(async () => {
    if (!(await findBinary("nft"))) {
      throw new Error("the API balancer e2e test needs nft (nftables): run 'npx plinth doctor --install'");
    }
    agent = await startSandboxedAgent({ name: "lb-e2e" });
    const box = agent.box;
    // The two control planes' addresses, on the sandbox's loopback link.
    for (const args of [
      ["addr", "add", "10.5.0.2/32", "dev", "lo"],
      ["addr", "add", "10.5.0.3/32", "dev", "lo"],
    ]) {
      const r = await box.exec("ip", args);
      assert.equal(r.code, 0, r.stderr);
    }
    probe = startSandboxedBalancer(box);
    await probe.call("upstreams", { hosts: ["10.5.0.2", "10.5.0.3"], port: 6443 });
    box.spawn(process.execPath, [
      plinthBin,
      "discovery",
      "serve",
      "--listen",
      "127.0.0.1:3000",
      "--metrics",
      "off",
      "--rate-limit",
      "0",
    ]);
    const cluster = agent.baseDocuments.find((d) => (d as { kind: string }).kind === "ClusterConfig") as {
      id: string;
      secret: string;
    };
    published = box.spawn(process.execPath, [
      "--disable-warning=ExperimentalWarning",
      publisher,
      "http://127.0.0.1:3000",
      cluster.id,
      cluster.secret,
      "cp-2",
      "10.5.0.3",
    ]);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: published!.stdout! }).once("line", () => resolve());
      published!.once("exit", (code) => reject(new Error(`affiliate publisher exited with ${code}`)));
    });
    await apply(balancer("kernel"));
  });
  after(async () => {
    published?.stdin?.end();
    await probe?.stop();
    await agent?.stop();
  });

  it("balances over the endpoint and the discovered control plane in the kernel", async () => {
    const s = await eventually("two healthy control planes", async () => {
      const current = await status();
      return current?.healthyUpstreams === 2 ? current : undefined;
    });
    assert.equal(s.listen, "127.0.0.1:7445");
    assert.equal(s.dataPath, "kernel");
    assert.deepEqual(s.upstreams.map((u) => u.address).sort(), [endpointCp, discoveredCp]);
    const table = await agent.cli(["get", "apibalancer"]);
    assert.match(table.stdout, /127\.0\.0\.1:7445\s+kernel\s+2\s+2/);
    assert.match(await nftRuleset(), /table ip plinth_balancer/);
    await eventually("connections spread over both", async () => {
      const seen = new Set(await answers(10));
      return seen.has("10.5.0.2:ping") && seen.has("10.5.0.3:ping") ? true : undefined;
    });
  });

  it("fails over when a control plane dies and takes it back when it returns", async () => {
    await probe.call("kill", { upstream: 0 });
    const down = await eventually(
      "the endpoint marked unhealthy",
      async () => {
        const s = await status();
        return healthOf(s, endpointCp) === "unhealthy" ? s : undefined;
      },
      10_000,
    );
    assert.equal(down.healthyUpstreams, 1);
    // New connections go to the other one only, none fails.
    assert.deepEqual(await answers(10), Array(10).fill("10.5.0.3:ping"));

    await probe.call("revive", { upstream: 0 });
    await eventually(
      "the endpoint healthy again",
      async () => (healthOf(await status(), endpointCp) === "healthy" ? true : undefined),
      10_000,
    );
    await eventually("connections to the endpoint again", async () =>
      (await answers(10)).includes("10.5.0.2:ping") ? true : undefined,
    );
  });

  it("switches to the Node data path and removes its nftables table; turned off, leaves nothing", async () => {
    const routeLocalnet = async () =>
      (await agent.box.exec("cat", ["/proc/sys/net/ipv4/conf/all/route_localnet"])).stdout.trim();
    await apply(balancer("node"));
    await eventually("the Node data path", async () =>
      (await status())?.dataPath === "node" ? true : undefined,
    );
    assert.doesNotMatch(await nftRuleset(), /plinth_balancer/);
    const viaNode = await answers(4);
    assert.ok(
      viaNode.every((a) => a === "10.5.0.2:ping" || a === "10.5.0.3:ping"),
      JSON.stringify(viaNode),
    );

    await apply(balancer("kernel"));
    await eventually("the kernel data path again", async () =>
      (await status())?.dataPath === "kernel" ? true : undefined,
    );
    assert.match(await nftRuleset(), /table ip plinth_balancer/);

    await apply(balancer("kernel", false));
    await eventually("no balancer", async () => ((await status()) === undefined ? true : undefined));
    // A fresh network namespace has an empty ruleset, and route_localnet off: as before.
    assert.equal((await nftRuleset()).trim(), "");
    assert.equal(await routeLocalnet(), "0");
    assert.match((await answers(1))[0]!, /^error: .*ECONNREFUSED/);
  });
});
