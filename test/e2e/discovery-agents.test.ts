// Agents find each other through a discovery service: three `plinth agent` processes (each on its
// own loopback address) with a `Discovery` document pointing at a `plinth discovery serve`
// process, read through `plinth get affiliates` as a user would.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DiscoveryProcess,
  startDiscoveryProcess,
} from "../../src/discovery/testing/discovery-process.ts";
import { type AgentProcess, startAgentProcess } from "../../src/testing/agent-process.ts";
import { runCli } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";

const hosts = ["127.0.0.31", "127.0.0.32", "127.0.0.33"] as const;

interface AffiliateView {
  readonly addresses: string[];
  readonly stale: boolean;
}

describe("agents find each other through the discovery service", () => {
  let dir: string;
  let service: DiscoveryProcess;
  let agents: AgentProcess[] = [];

  const affiliatesOf = async (agent: AgentProcess): Promise<AffiliateView[]> => {
    const r = await runCli([
      "--plinthconfig",
      join(dir, "plinthconfig"),
      "-e",
      agent.endpoint,
      "get",
      "affiliates",
      "-o",
      "json",
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
    const parsed = r.stdout
      .split(/\n(?=\{)/)
      .filter((t) => t.trim())
      .map((t) => JSON.parse(t) as { spec: AffiliateView });
    return parsed.map((p) => p.spec);
  };
  const addressesSeenBy = async (agent: AgentProcess) =>
    (await affiliatesOf(agent)).flatMap((a) => a.addresses).sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-e2e-discovery-agents-"));
    service = await startDiscoveryProcess(["--rate-limit", "0"]);
    const gen = await runCli(["gen", "config", "e2e-discovery", "https://127.0.0.31:6443", "-o", dir]);
    assert.equal(gen.code, 0, gen.stderr);
    const config = join(dir, "controlplane-discovery.yaml");
    await writeFile(
      config,
      `${await readFile(join(dir, "controlplane.yaml"), "utf8")}\n---\napiVersion: v1alpha1\nkind: Discovery\nendpoint: ${service.url}\nttl: 1m\n`,
    );
    agents = await Promise.all(
      hosts.map((host, i) => startAgentProcess({ stateDir: join(dir, `node-${i}`), host })),
    );
    for (const agent of agents) {
      const r = await runCli(["apply-config", "-i", "-e", agent.endpoint, "-f", config]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    await service?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("each agent lists the other two as affiliates, with their addresses", async () => {
    for (const [i, agent] of agents.entries()) {
      const others = hosts.filter((_, j) => j !== i);
      await eventually(`agent ${hosts[i]} to see ${others.join(", ")}`, async () =>
        JSON.stringify(await addressesSeenBy(agent)) === JSON.stringify(others) ? true : undefined,
      );
    }
  });

  it("keeps the affiliates, marked stale, while the service restarts, then refreshes them", async () => {
    assert.equal(await service.kill("SIGTERM"), 0);
    const stale = await eventually("stale affiliates", async () => {
      const seen = await affiliatesOf(agents[0]!);
      return seen.length === 2 && seen.every((a) => a.stale) ? seen : undefined;
    });
    assert.deepEqual(stale.flatMap((a) => a.addresses).sort(), [hosts[1], hosts[2]]);
    await service.restart();
    await eventually("fresh affiliates again", async () => {
      const seen = await affiliatesOf(agents[0]!);
      return seen.length === 2 && seen.every((a) => !a.stale) ? seen : undefined;
    });
  });

  it("a reset removes the machine's record at once, long before its TTL", async () => {
    const r = await runCli(["--plinthconfig", join(dir, "plinthconfig"), "-e", agents[2]!.endpoint, "reset"]);
    assert.equal(r.code, 0, r.stderr);
    // The record's TTL is a minute; the deletion reaches the other members' watches in seconds.
    for (const agent of agents.slice(0, 2)) {
      await eventually(
        "the reset machine to leave the others' affiliates",
        async () => (!(await addressesSeenBy(agent)).includes(hosts[2]) ? true : undefined),
        15_000,
      );
    }
  });
});
