// etcd on the control planes end to end: three agents as processes, each on its own loopback
// address (127.0.0.2-4) so that their etcd members use the standard ports, driven by the CLI.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createEtcdClients } from "../../src/agent/etcd/etcd-clients.ts";
import { lifecycleLockKey } from "../../src/agent/etcd/lifecycle-lock.ts";
import { createApiTransport } from "../../src/api/client/api-transport.ts";
import { type EtcdMember, MachineService } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { contextTls, parseClientConfig, selectContext } from "../../src/config/client-config.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { type AgentProcess, startAgentProcess } from "../../src/testing/agent-process.ts";
import { runCli } from "../../src/testing/cli.ts";
import { eventually } from "../../src/testing/eventually.ts";

const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"] as const;

/** Process ids of the etcd servers whose data dir lies under `dir`: our own children, found by id. */
async function etcdPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const argv = cmdline.split("\0");
    if (argv.some((a) => a.endsWith("etcd")) && argv.some((a) => a.startsWith(`--data-dir=${dir}/`)))
      pids.push(Number(entry));
  }
  return pids;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

describe("etcd on three control planes, agents as processes on 127.0.0.2-4", () => {
  let dir: string;
  let agents: AgentProcess[] = [];
  let plinthconfig: string;
  const clients: { close(): void }[] = [];
  const as = (agent: AgentProcess, ...args: string[]) =>
    runCli(["--plinthconfig", plinthconfig, "-e", agent.endpoint, ...args]);

  async function machine(agent: AgentProcess) {
    const config = parseClientConfig(await readFile(plinthconfig, "utf8"), "plinthconfig");
    const { context } = selectContext(config);
    const api = createApiTransport({
      url: `https://${agent.endpoint}`,
      tls: contextTls(context),
    });
    clients.push({ close: api.close });
    return createClient(MachineService, api.transport);
  }

  /** The members as `agent` sees them, once `ready` holds for them. */
  async function members(
    agent: AgentProcess,
    what: string,
    ready: (members: EtcdMember[]) => boolean,
    timeoutMs?: number,
  ): Promise<EtcdMember[]> {
    const m = await machine(agent);
    return eventually(
      what,
      async () => {
        const list = (await m.etcdMemberList({})).messages[0]?.members ?? [];
        return ready(list) ? list : undefined;
      },
      timeoutMs,
    );
  }

  /** Resolves once `agent` runs an etcd other than `before` (its pids before a reboot). */
  async function restarted(agent: AgentProcess, before: readonly number[]): Promise<void> {
    await eventually("etcd restarted by the reboot", async () => {
      const now = await etcdPids(agent.stateDir);
      return now.length === 1 && !before.includes(now[0]!) ? true : undefined;
    });
  }

  const allHealthy = (n: number) => (list: EtcdMember[]) =>
    list.length === n &&
    list.every((x) => x.healthy && !x.isLearner) &&
    list.filter((x) => x.isLeader).length === 1;
  const nameOf = (host: string) => (list: EtcdMember[]) => list.find((x) => x.name.endsWith(`-${host}`));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-e2e-etcd-"));
    const gen = await runCli(["gen", "config", "e2e", "https://127.0.0.2:6443", "-o", dir]);
    assert.equal(gen.code, 0, gen.stderr);
    plinthconfig = join(dir, "plinthconfig");
    agents = await Promise.all(
      hosts.map((host, i) => startAgentProcess({ stateDir: join(dir, `node-${i + 1}`), host })),
    );
    const applied = await Promise.all(
      agents.map((a) =>
        runCli(["apply-config", "-i", "-e", a.endpoint, "-f", join(dir, "controlplane.yaml")]),
      ),
    );
    for (const r of applied) assert.equal(r.code, 0, r.stderr);
    // The API serves mTLS once the agent has restarted it with the config's trust material.
    await Promise.all(
      agents.map(async (agent) => {
        const m = await machine(agent);
        await eventually("the API over mTLS", async () =>
          (await m.version({})).messages.length > 0 ? true : undefined,
        );
      }),
    );
  });

  after(async () => {
    for (const c of clients) c.close();
    const leftovers = dir ? await etcdPids(dir) : [];
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    for (const pid of [...leftovers, ...(dir ? await etcdPids(dir) : [])]) kill(pid, "SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("bootstraps etcd on one node; the other control planes join by themselves, one leader", async (t) => {
    const started = Date.now();
    const boot = await as(agents[0]!, "bootstrap");
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stdout, /starts a new cluster with this node \(.*-127\.0\.0\.2\) as its only member/);
    const list = await members(agents[0]!, "3 healthy voting members", allHealthy(3), 40_000);
    t.diagnostic(`bootstrap of 1 and join of 2: ${Date.now() - started} ms`);
    assert.deepEqual(
      list.map((x) => x.peerUrls[0]).sort(),
      hosts.map((h) => `https://${h}:2380`),
    );
    const table = await as(agents[1]!, "etcd", "members");
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.trim().split("\n").slice(1);
    assert.equal(rows.length, 3, table.stdout);
    assert.equal(rows.filter((r) => / OK/.test(r)).length, 3, table.stdout);
    assert.equal(rows.filter((r) => /\s{3}yes\s{3}/.test(r)).length, 1, table.stdout);
  });

  it("refuses a second bootstrap, on the bootstrapped node and on a node that joined", async () => {
    const [again, other] = await Promise.all([as(agents[0]!, "bootstrap"), as(agents[2]!, "bootstrap")]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /etcd was already bootstrapped on this node/);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /already a member of an etcd cluster|an etcd cluster already answers at/);
  });

  it("serves etcd status and the EtcdMember and EtcdStatus resources on every node", async () => {
    const nodes = agents.map((a) => a.endpoint).join(",");
    const status = await as(agents[0]!, "-n", nodes, "etcd", "status");
    assert.equal(status.code, 0, status.stderr);
    const rows = status.stdout.trim().split("\n").slice(1);
    assert.equal(rows.length, 3, status.stdout);
    const leaders = new Set(rows.map((r) => r.split(/\s+/)[2]));
    assert.equal(leaders.size, 1, `every member names the same leader:\n${status.stdout}`);
    await Promise.all(
      agents.map(async (agent) => {
        await eventually("EtcdMember resources", async () => {
          const get = await as(agent, "get", "etcdmembers", "-o", "jsonpath={.spec.healthy}");
          return get.stdout === "true\ntrue\ntrue\n" ? true : undefined;
        });
        const own = await as(agent, "get", "etcdstatus", "local", "-o", "jsonpath={.spec.healthy}");
        assert.equal(own.stdout.trim(), "true", own.stderr);
      }),
    );
  });

  it("writes a snapshot of the database to a file", async () => {
    const file = join(dir, "snapshot.db");
    const r = await as(agents[1]!, "etcd", "snapshot", file);
    assert.equal(r.code, 0, r.stderr);
    const size = (await stat(file)).size;
    assert.ok(size > 0, "the snapshot is empty");
    assert.match(r.stdout, new RegExp(`etcd snapshot saved to .*snapshot\\.db \\(${size} bytes\\)`));
  });

  it("forfeits leadership to another member", async () => {
    const list = await members(agents[0]!, "a leader", allHealthy(3));
    const leaderHost = hosts.find((h) => nameOf(h)(list)?.isLeader)!;
    const leader = agents[hosts.indexOf(leaderHost)]!;
    const r = await as(leader, "etcd", "forfeit-leadership");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /etcd leadership moved to .*-127\.0\.0\.\d/);
    const after = await members(
      agents[0]!,
      "a new leader",
      (l) => allHealthy(3)(l) && !nameOf(leaderHost)(l)?.isLeader,
    );
    assert.ok(after.some((x) => x.isLeader));
  });

  it("lets one control plane at a time through: of two reboots at once, one is refused", async (t) => {
    const pids = [await etcdPids(agents[1]!.stateDir), await etcdPids(agents[2]!.stateDir)];
    const [a, b] = await Promise.all([as(agents[1]!, "reboot"), as(agents[2]!, "reboot")]);
    assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.stderr}\n${b.stderr}`);
    const refused = a.code === 1 ? a : b;
    assert.match(refused.stderr, /holds the cluster-wide lock|is down or unhealthy/);
    t.diagnostic(`refused: ${refused.stderr.trim()}`);
    const which = a.code === 0 ? 1 : 2;
    await restarted(agents[which]!, pids[which - 1]!);
    await members(agents[0]!, "the rebooted member back", allHealthy(3));
  });

  it("refuses while the cluster-wide lock is held elsewhere, and lets the node through once it is free", async () => {
    const text = await readFile(join(dir, "controlplane.yaml"), "utf8");
    const loaded = loadConfig(text);
    assert.ok(loaded.ok);
    const ca = loaded.bundle.get("ClusterConfig").etcd!.ca;
    const etcd = createEtcdClients();
    try {
      const client = await etcd.client({ crt: ca.crt, key: ca.key! }, "https://127.0.0.2:2379");
      const holder = { member: "cp-elsewhere", action: "upgrade", bootId: "b", at: "2030-01-01T00:00:00Z" };
      await client.put(lifecycleLockKey).value(JSON.stringify(holder));
      const refused = await as(agents[1]!, "reboot");
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(
        refused.stderr,
        /Cannot reboot .*-127\.0\.0\.3: another control plane is taking its etcd member down \(upgrade\): cp-elsewhere holds the cluster-wide lock since 2030-01-01T00:00:00Z/,
      );
      await client.delete().key(lifecycleLockKey);
      const before = await etcdPids(agents[1]!.stateDir);
      const allowed = await as(agents[1]!, "reboot");
      assert.equal(allowed.code, 0, allowed.stderr);
      await restarted(agents[1]!, before);
      await members(agents[0]!, "the rebooted member back", allHealthy(3));
      // Back and healthy, the member released the lock it took before going down.
      await eventually("the lock released", async () =>
        (await client.get(lifecycleLockKey).string()) === null ? true : undefined,
      );
    } finally {
      etcd.close();
    }
  });

  it("refuses a reboot while another member is down, naming it; --force overrides, loudly", async () => {
    const victim = agents[2]!;
    const pids = await etcdPids(victim.stateDir);
    assert.equal(pids.length, 1, "node 3 runs one etcd");
    await victim.kill("SIGKILL");
    for (const pid of pids) kill(pid, "SIGKILL");
    await members(agents[0]!, "node 3 seen down", (l) => nameOf("127.0.0.4")(l)?.healthy === false);

    const refused = await as(agents[1]!, "reboot");
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      refused.stderr,
      /Cannot reboot .*-127\.0\.0\.3: etcd member .*-127\.0\.0\.4 \(id [0-9a-f]+\) is down or unhealthy \(.*\); .*use --force to reboot anyway/,
    );
    // An upgrade takes the member down as a reboot does: refused the same way.
    const bundle = join(dir, "bundle.tar.gz");
    assert.equal((await runCli(["bundle", "create", "--out", bundle])).code, 0);
    const upgrade = await as(agents[1]!, "upgrade", "--bundle", bundle);
    assert.equal(upgrade.code, 1, upgrade.stdout);
    assert.match(
      upgrade.stderr,
      /Cannot upgrade .*-127\.0\.0\.3: etcd member .*-127\.0\.0\.4 \(id [0-9a-f]+\) is down or unhealthy/,
    );
    const before = await etcdPids(agents[1]!.stateDir);
    const forced = await as(agents[1]!, "reboot", "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /^WARNING: --force: rebooting without the etcd quorum check/m);
    assert.match(forced.stderr, /WARNING: .*the etcd quorum check and the cluster-wide lock were skipped/);
    assert.match(forced.stdout, /rebooting/);
    await restarted(agents[1]!, before);
    await members(agents[0]!, "node 2 back after its forced reboot", (l) =>
      hosts.slice(0, 2).every((h) => nameOf(h)(l)?.healthy),
    );
  });

  it("removes the dead member; with 2 members left, leaving is refused", async () => {
    const list = await members(agents[0]!, "the dead member", (l) => nameOf("127.0.0.4")(l) !== undefined);
    const dead = nameOf("127.0.0.4")(list)!;
    const removed = await as(agents[0]!, "etcd", "remove-member", dead.id);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed etcd member .*-127\\.0\\.0\\.4 \\(id ${dead.id}\\)`));
    await members(agents[0]!, "2 healthy members", allHealthy(2));
    const leave = await as(agents[1]!, "etcd", "leave");
    assert.equal(leave.code, 1);
    assert.match(leave.stderr, /the etcd cluster has exactly 2 members/);
  });

  it("stops etcd when the agent stops", async () => {
    const agent = agents[1]!;
    assert.equal((await etcdPids(agent.stateDir)).length, 1);
    assert.equal(await agent.kill("SIGTERM"), 0);
    assert.deepEqual(await etcdPids(agent.stateDir), []);
  });
});
