// Health, diagnostics, shutdown and SIGTERM on a local cluster of 3 control planes, as root.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ClusterHome, createClusterHome } from "../../src/testing/cluster-home.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { requireSandboxTools } from "../../src/testing/sandbox.ts";

const name = "e2e-h";
const cidr = "10.217.0.0/24";
const ips = ["10.217.0.2", "10.217.0.3", "10.217.0.4"];
const nodeName = (i: number) => `${name}-controlplane-${i + 1}`;
const netns = (i: number) => `plinth-${name}-${i + 1}`;

const argvOf = (pid: number) => {
  try {
    return execFileSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" }).split("\0");
  } catch {
    return [];
  }
};
const pidsIn = (i: number) =>
  execFileSync("ip", ["netns", "pids", netns(i)], { encoding: "utf8" })
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
const initOf = (i: number) => pidsIn(i).filter((pid) => argvOf(pid)[0] === "sh");
const agentOf = (i: number) =>
  pidsIn(i).filter((pid) => {
    const argv = argvOf(pid);
    return argv[0] === process.execPath && argv.includes("agent");
  });
const etcdOf = (i: number) => pidsIn(i).filter((pid) => argvOf(pid)[0]?.endsWith("etcd"));
/** Running: neither gone nor a zombie (an init whose parent is gone may wait to be reaped). */
const alive = (pid: number) => {
  try {
    const stat = execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8", stdio: "pipe" });
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("health, diagnostics, shutdown and SIGTERM on a local cluster", () => {
  let home: ClusterHome;
  const cli = (...args: string[]) => home.cli(...args);
  const agentLog = (i: number) =>
    readFile(
      join(home.dir, "clusters", name, "nodes", nodeName(i), "var", "log", "plinth-agent.log"),
      "utf8",
    );
  const healthy = async (what: string) => {
    const r = await cli("health", "--wait-timeout", "90s");
    assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  };

  before(async () => {
    await requireSandboxTools();
    home = await createClusterHome("plinth-e2e-health-");
    const r = await home.create({ name: name, controlplanes: 3, workers: 0, cidr: cidr });
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  after(async () => {
    await cli("cluster", "destroy", "--name", name);
    await rm(home.dir, { recursive: true, force: true });
  });

  it("health --server: one node runs the checks and streams the same progress as local mode", async () => {
    const server = await cli("-n", ips[1]!, "health", "--server", "--wait-timeout", "60s");
    assert.equal(server.code, 0, server.stdout + server.stderr);
    assert.match(server.stdout, /^checking 3 control planes and 0 workers \(from 10\.217\.0\.3\)$/m);
    assert.match(
      server.stdout,
      /^OK +every node has 128 MiB of memory and 256 MiB of disk free: least memory free/m,
    );
    assert.match(server.stdout, /^OK +no node reports a diagnostic: none$/m);
    assert.match(server.stdout, /^OK +every node's services are running and healthy/m);
    const local = await cli("health", "--wait-timeout", "60s");
    assert.equal(local.code, 0, local.stdout + local.stderr);
    const checks = (out: string) => out.match(/^OK +[^:]+/gm) ?? [];
    assert.deepEqual(checks(server.stdout), checks(local.stdout));
    // Minimums no node can meet: the check fails, naming each node and what it has.
    const greedy = await cli("health", "--server", "--wait-timeout", "1s", "--min-memory", "900Ti");
    assert.equal(greedy.code, 1);
    assert.match(
      greedy.stdout,
      /^FAIL +every node has 900 TiB of memory .*10\.217\.0\.2: [\d.]+ [GM]iB of memory available/m,
    );
    const bad = await cli("health", "--min-disk", "lots");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--min-disk must be a size like 512Mi, 2Gi or 300M, current value is 'lots'/);
  });

  it("a crash-looping service makes a Diagnostic, and health fails naming it until the service is gone", async () => {
    const config = await readFile(join(home.dir, "clusters", name, "controlplane.yaml"), "utf8");
    const crashing = join(home.dir, "crashing.yaml");
    await writeFile(
      crashing,
      `${config.trimEnd()}\n---\napiVersion: v1alpha1\nkind: Service\nname: crasher\ncommand: /bin/sh\nargs: [-c, "exit 3"]\n`,
    );
    const apply = await cli("-n", ips[2]!, "apply-config", "-f", crashing);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    await eventually(
      "the crash-loop diagnostic",
      async () => {
        const r = await cli("-n", ips[2]!, "get", "diagnostics", "-o", "jsonpath={.metadata.id}");
        return r.stdout.includes("service-crash-loop-crasher") ? true : undefined;
      },
      30_000,
      500,
    );
    for (const mode of [[], ["--server"]]) {
      const sick = await cli("health", ...mode, "--wait-timeout", "2s");
      assert.equal(sick.code, 1, sick.stdout);
      assert.match(
        sick.stdout,
        /^FAIL +no node reports a diagnostic: .*10\.217\.0\.4: service-crash-loop-crasher: service crasher is crash-looping/m,
      );
    }
    const original = join(home.dir, "original.yaml");
    await writeFile(original, config);
    const back = await cli("-n", ips[2]!, "apply-config", "-f", original);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    await healthy("after the service was removed");
  });

  it("SIGTERM of the leader's agent moves etcd leadership to another member before etcd stops", async () => {
    const statuses = await cli(
      "-n",
      ips.join(","),
      "get",
      "etcdstatus",
      "-o",
      "jsonpath={.node} {.spec.isLeader} {.spec.memberId}",
    );
    const leaderLine = statuses.stdout
      .trim()
      .split("\n")
      .find((l) => l.split(" ")[1] === "true");
    assert.ok(leaderLine, statuses.stdout + statuses.stderr);
    const [leaderIp, , leaderId] = leaderLine.split(" ");
    const i = ips.indexOf(leaderIp!);
    const logBefore = (await agentLog(i)).length;
    const [agent] = agentOf(i);
    const [etcd] = etcdOf(i);
    assert.ok(agent && etcd, "the leader runs an agent and etcd");
    process.kill(agent, "SIGTERM");
    await eventually("the agent to exit", () => (alive(agent) ? undefined : true), 30_000);
    const log = (await agentLog(i)).slice(logBefore);
    const moved = log.split("\n").find((l) => l.includes("etcd leadership moved to another member"));
    assert.ok(moved, `the agent handed leadership over before stopping etcd:\n${log}`);
    const to = (JSON.parse(moved) as { to: string }).to;
    assert.ok(!to.startsWith(`${nodeName(i)}-`), `leadership went to ${to}, another node`);
    // etcd itself agrees: another node's etcd status names a new leader, the member of the log.
    const other = ips.find((_, j) => j !== i)!;
    const newLeader = await eventually(
      "a new leader in etcd's status",
      async () => {
        const r = await cli("-n", other, "etcd", "status");
        const leader = r.stdout.trim().split("\n")[1]?.split(/\s+/)[2];
        return r.code === 0 && leader && leader !== leaderId ? leader : undefined;
      },
      20_000,
      500,
    );
    const members = await cli("-n", other, "etcd", "members");
    const row = members.stdout.split("\n").find((l) => l.split(/\s+/)[1] === newLeader);
    assert.equal(row?.split(/\s+/)[2], to, members.stdout);
    // The node's init starts the agent again (a signal is not a shutdown).
    await healthy("after the agent was started again");
  });

  it("shutdown is refused by the quorum guard while another control plane is down", async () => {
    const init = initOf(2);
    const doomed = [...agentOf(2), ...etcdOf(2)];
    assert.ok(init.length > 0 && doomed.length >= 2, "node 3 runs an init, an agent and etcd");
    for (const pid of init) process.kill(pid, "SIGSTOP");
    for (const pid of doomed) process.kill(pid, "SIGKILL");
    try {
      const refused = await cli("-n", ips[1]!, "shutdown");
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /Cannot shutdown .*e2e-h-controlplane-3.*is down or unhealthy/);
      assert.equal(agentOf(1).length, 1, "node 2's agent still runs");
    } finally {
      for (const pid of init) process.kill(pid, "SIGCONT");
    }
    await healthy("after node 3 came back");
  });

  it("shutdown goes through on a healthy cluster, and the node stays down", async () => {
    const init = initOf(2);
    const r = await cli("-n", ips[2]!, "shutdown");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /10\.217\.0\.4: shutting down \(shutdown-\d+\)/);
    await eventually(
      "node 3's init and agent to end",
      () => (pidsIn(2).length === 0 ? true : undefined),
      30_000,
      200,
    );
    assert.ok(init.every((pid) => !alive(pid)));
    await stat(join(home.dir, "clusters", name, "nodes", nodeName(2), "var", "lib", "plinth", "shutdown"));
    // Longer than the init's pause before a restart: nothing came back.
    await new Promise((res) => setTimeout(res, 2500));
    assert.deepEqual(pidsIn(2), []);
    const version = await cli("-n", ips[2]!, "version");
    assert.notEqual(version.code, 0);
    assert.match(await agentLog(2), /shutdown: services stopped; the agent exits and stays down/);
  });

  it("SIGTERM of a control plane whose going down loses etcd's quorum is logged loudly", async () => {
    const logBefore = (await agentLog(1)).length;
    const [agent] = agentOf(1);
    assert.ok(agent);
    process.kill(agent, "SIGTERM");
    await eventually("the agent to exit", () => (alive(agent) ? undefined : true), 30_000);
    assert.match(
      (await agentLog(1)).slice(logBefore),
      /WARNING: stopping this etcd member leaves the etcd cluster without quorum/,
    );
  });
});
