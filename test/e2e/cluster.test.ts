// `plinth cluster create` end to end, as root: real bridges, namespaces and agent processes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { clusterTag } from "../../src/provision/cluster-plan.ts";
import { type ClusterHome, createClusterHome } from "../../src/testing/cluster-home.ts";
import { requireSandboxTools } from "../../src/testing/sandbox.ts";

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
const namespaces = () => ip("netns", "list");
const links = () => ip("-br", "link");
const mounts = () => execFileSync("cat", ["/proc/mounts"], { encoding: "utf8" });

describe("local clusters on network namespaces", () => {
  let home: ClusterHome;
  const cli = (...args: string[]) => home.cli(...args);

  before(async () => {
    await requireSandboxTools();
    home = await createClusterHome("plinth-e2e-cluster-");
  });

  after(async () => {
    for (const name of ["e2e-a", "e2e-b"]) await cli("cluster", "destroy", "--name", name);
    await rm(home.dir, { recursive: true, force: true });
  });

  it("refuses invalid flags before creating anything", async () => {
    const before = { ns: namespaces(), links: links() };
    const cases: [string[], RegExp][] = [
      [["--name", "Bad_Name"], /--name must be 1-32 lowercase letters/],
      [["--cidr", "10.9.0.1/24"], /--cidr must name a network \(no host bits\).*10\.9\.0\.0\/24/],
      [["--cidr", "fd00::/64"], /--cidr must be an IPv4 network/],
      [["--controlplanes", "0"], /--controlplanes must be a whole number from 1 to 50, current value is 0/],
      [["--cidr", "10.9.0.0/30", "--workers", "3"], /has room for 1 nodes, 6 requested/],
      [["--wait-timeout", "soon"], /--wait-timeout must be a duration/],
    ];
    for (const [flags, message] of cases) {
      const r = await cli("cluster", "create", "--name", "e2e-bad", ...flags);
      assert.equal(r.code, 1, `${flags.join(" ")} should fail`);
      assert.match(r.stderr, message);
    }
    assert.equal(namespaces(), before.ns);
    assert.equal(links(), before.links);
  });

  it("creates a cluster whose nodes answer through the merged context", async () => {
    const r = await home.create({ name: "e2e-a", controlplanes: 3, workers: 1, cidr: "10.231.0.0/24" });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /node e2e-a-worker-1: ready \(mTLS\)/);
    assert.match(r.stdout, /etcd: 3\/3 members healthy/);
    assert.match(r.stdout, /cluster e2e-a is ready: 4 nodes; context "e2e-a" merged/);
    const get = await cli(
      "-n",
      "10.231.0.2,10.231.0.5",
      "get",
      "machinestatus",
      "-o",
      "jsonpath={.node} {.spec.stage} {.spec.machineType}",
    );
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(get.stdout.trim().split("\n").sort(), [
      "10.231.0.2 running controlplane",
      "10.231.0.5 running worker",
    ]);
    const health = await cli("health", "--wait-timeout", "30s");
    assert.equal(health.code, 0, health.stdout + health.stderr);
    assert.match(
      health.stdout,
      /^OK +etcd member lists agree, members are exactly the control planes, one leader: 3 members/m,
    );
    const show = await cli("cluster", "show", "--name", "e2e-a");
    assert.match(show.stdout, /e2e-a\s+e2e-a-controlplane-1\s+controlplane\s+10\.231\.0\.2\s+running/);
    // Each node has its own hostname and /etc; the machine running the test keeps its own.
    const hostEtcHostname = await readFile("/etc/hostname", "utf8");
    const nodeEtc = await readFile(
      join(home.dir, "clusters", "e2e-a", "nodes", "e2e-a-worker-1", "etc", "hostname"),
      "utf8",
    );
    assert.equal(nodeEtc.trim(), "e2e-a-worker-1");
    assert.equal(await readFile("/etc/hostname", "utf8"), hostEtcHostname);
  });

  it("refuses a second cluster whose network overlaps, and lets a distinct one coexist", async () => {
    const clash = await cli("cluster", "create", "--name", "e2e-b", "--cidr", "10.231.0.128/25");
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /--cidr 10\.231\.0\.128\/25 overlaps cluster e2e-a \(10\.231\.0\.0\/24\)/);
    const ok = await home.create({ name: "e2e-b", controlplanes: 1, workers: 0, cidr: "10.232.0.0/24" });
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const both = await cli("--context", "e2e-b", "get", "machinestatus", "-o", "jsonpath={.spec.stage}");
    assert.equal(both.stdout.trim(), "running");
  });

  it("health and the quorum guard see a dead control plane; the node's init brings it back", async () => {
    const victim = "plinth-e2e-a-3";
    const pids = ip("netns", "pids", victim).trim().split(/\s+/).map(Number);
    const argvOf = (pid: number) => {
      try {
        return execFileSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" }).split("\0");
      } catch {
        return [];
      }
    };
    // Hold the node's init, so the agent stays down until the assertions are made.
    const init = pids.filter((pid) => argvOf(pid)[0] === "sh");
    const doomed = pids.filter((pid) => {
      const argv = argvOf(pid);
      return (argv[0] === process.execPath && argv.includes("agent")) || argv[0]?.endsWith("etcd");
    });
    assert.ok(init.length > 0 && doomed.length >= 2, "the node runs an init, an agent and etcd");
    for (const pid of init) process.kill(pid, "SIGSTOP");
    for (const pid of doomed) process.kill(pid, "SIGKILL");
    try {
      // The current context is e2e-b's since it was created; name e2e-a's.
      const sick = await cli("--context", "e2e-a", "health", "--wait-timeout", "3s");
      assert.equal(sick.code, 1);
      assert.match(sick.stdout, /^FAIL +every node's API answers .*10\.231\.0\.4/m);
      const refused = await cli("--context", "e2e-a", "-n", "10.231.0.3", "reboot");
      assert.equal(refused.code, 1, "rebooting a second control plane would lose quorum");
      assert.match(refused.stderr, /quorum|unhealthy|down/i);
      assert.match(refused.stderr, /10\.231\.0\.4|e2e-a-controlplane-3/);
    } finally {
      for (const pid of init) process.kill(pid, "SIGCONT");
    }
    const healthy = await cli("--context", "e2e-a", "health", "--wait-timeout", "60s");
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    const rev = await cli(
      "--context",
      "e2e-a",
      "-n",
      "10.231.0.4",
      "get",
      "machinestatus",
      "-o",
      "jsonpath={.spec.configRevision}",
    );
    assert.equal(rev.stdout.trim(), "1", "the node came back with its config");
  });

  it("upgrades rolling, control planes first, the new agents reporting the bundle's version", async () => {
    const bundle = join(home.dir, "next.tar.gz");
    const made = await cli("bundle", "create", "--out", bundle, "--version", "0.0.0-e2e.1");
    assert.equal(made.code, 0, made.stderr);
    // The worker is named first: the control plane still goes first.
    const r = await cli(
      "--context",
      "e2e-a",
      "-n",
      "10.231.0.5,10.231.0.4",
      "upgrade",
      "--bundle",
      bundle,
      "--health-timeout",
      "60s",
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const installed = [...r.stdout.matchAll(/^(\S+?)(?::50000)?: installed 0\.0\.0-e2e\.1/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(installed, ["10.231.0.4", "10.231.0.5"]);
    assert.match(r.stdout, /checking cluster health before 10\.231\.0\.5/);
    assert.match(r.stdout, /^OK +10\.231\.0\.4\S*: upgraded \S+ → 0\.0\.0-e2e\.1/m);
    assert.match(r.stdout, /^OK +10\.231\.0\.5\S*: upgraded \S+ → 0\.0\.0-e2e\.1/m);
    const versions = await cli("--context", "e2e-a", "-n", "10.231.0.4,10.231.0.5", "version");
    assert.equal(versions.stdout.match(/Plinth 0\.0\.0-e2e\.1/g)?.length, 2, versions.stdout);
  });

  it("destroy leaves no namespace, bridge, process, mount or file behind", async () => {
    for (const name of ["e2e-a", "e2e-b"]) {
      const r = await cli("cluster", "destroy", "--name", name);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.doesNotMatch(namespaces(), /plinth-e2e-[ab]-/);
    // Only this test's links: other clusters (other tests, benchmarks) may run beside it.
    for (const tag of ["e2e-a", "e2e-b"].map(clusterTag)) {
      assert.doesNotMatch(links(), new RegExp(`^plb-${tag}|^plv${tag}-`, "m"));
    }
    assert.doesNotMatch(mounts(), /plinth-e2e-[ab]-|plinth-e2e-cluster/);
    assert.doesNotMatch(
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }),
      /plinth-e2e-cluster.*agent|--listen 10\.23[12]\./,
    );
    await assert.rejects(stat(join(home.dir, "clusters", "e2e-a")), /ENOENT/);
    const again = await cli("cluster", "destroy", "--name", "e2e-a");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no cluster named e2e-a/);
  });
});
