import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { findBinary } from "../doctor/doctor.ts";
import { eventually } from "../testing/eventually.ts";
import { createSandbox, type Sandbox } from "../testing/sandbox.ts";
import { resolveSettings } from "./balancer-settings.ts";
import type { BalancerStatus } from "./balancer-status.ts";
import { type SandboxedBalancer, startSandboxedBalancer } from "./testing/sandboxed-balancer.ts";

// Everything nftables here happens inside sandboxes (own network namespaces): the machine's own
// ruleset is never read or changed.

async function requireNft(): Promise<void> {
  for (const [bin, pkg] of [
    ["nft", "nftables"],
    ["conntrack", "conntrack"],
  ]) {
    if (!(await findBinary(bin!))) {
      throw new Error(`the kernel data path tests need ${bin} (${pkg}): run 'npx plinth doctor --install'`);
    }
  }
}

/** A conntrack entry as a connection from 127.0.0.1:sport to :7445 translated to `upstream` leaves it. */
async function addConntrackEntry(
  box: Sandbox,
  sport: number,
  upstream: string,
  state: string,
): Promise<void> {
  const [host, port] = [
    upstream.slice(0, upstream.lastIndexOf(":")),
    upstream.slice(upstream.lastIndexOf(":") + 1),
  ];
  const r = await box.exec("conntrack", [
    "-I",
    "-p",
    "tcp",
    "-s",
    "127.0.0.1",
    "-d",
    "127.0.0.1",
    "--sport",
    String(sport),
    "--dport",
    "7445",
    "-r",
    host,
    "-q",
    "127.0.0.1",
    "--reply-port-src",
    port,
    "--reply-port-dst",
    String(sport),
    "--state",
    state,
    "-t",
    "60",
    "-u",
    "SEEN_REPLY",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

async function conntrackStates(box: Sandbox, upstream: string): Promise<string[]> {
  const host = upstream.slice(0, upstream.lastIndexOf(":"));
  const r = await box.exec("conntrack", ["-L", "-p", "tcp", "--reply-src", host, "--dport", "7445"]);
  return r.stdout
    .split("\n")
    .flatMap((l) => /^tcp\s+\d+\s+\d+\s+(\S+)/.exec(l)?.[1] ?? [])
    .sort();
}

async function netState(box: Sandbox): Promise<{ ruleset: string; routeLocalnet: string }> {
  const ruleset = await box.exec("nft", ["list", "ruleset"]);
  assert.equal(ruleset.code, 0, ruleset.stderr);
  const localnet = await box.exec("cat", ["/proc/sys/net/ipv4/conf/all/route_localnet"]);
  return { ruleset: ruleset.stdout, routeLocalnet: localnet.stdout.trim() };
}

/** How many answers came from each upstream, by the name the test upstreams prefix them with. */
function tally(answers: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const from = /^(.*):ping$/.exec(a)?.[1] ?? a;
    counts.set(from, (counts.get(from) ?? 0) + 1);
  }
  return counts;
}

describe("kernel data path (nftables in a sandbox)", () => {
  const port = 7445;
  let box: Sandbox;
  let lb: SandboxedBalancer;
  let beforeState: Awaited<ReturnType<typeof netState>>;
  let keys: string[];

  before(async () => {
    await requireNft();
    box = await createSandbox({ name: "lb-kernel" });
    beforeState = await netState(box);
    lb = startSandboxedBalancer(box);
    keys = await lb.call<string[]>("upstreams", { hosts: ["127.0.21.1", "127.0.21.2", "127.0.21.3"] });
  });
  after(async () => {
    await lb?.stop();
    await box?.destroy();
  });

  const status = () => lb.call<BalancerStatus>("status");
  const requests = (count: number) => lb.call<string[]>("requests", { port, count });

  it("forwards to the healthy upstreams, spreads over them and follows health changes", async () => {
    const started = await lb.call<{ port: number }>("start", {
      settings: {
        port,
        upstreams: keys,
        dataPath: "kernel",
        kernelCountIntervalMs: 100,
        healthCheck: { intervalMs: 200, timeoutMs: 100 },
      },
    });
    assert.equal(started.port, port);
    await eventually("all three upstreams in the kernel map", async () =>
      (await status()).kernelUpstreams.length === 3 ? true : undefined,
    );
    const table = await box.exec("nft", ["list", "table", "ip", "plinth_balancer"]);
    assert.match(table.stdout, /dnat ip to numgen inc mod 60 map @slots/);

    // Spread: strict turns over the slots, so 30 connections give each upstream 10.
    const spread = tally(await requests(30));
    assert.deepEqual([...spread.keys()].sort(), ["127.0.21.1", "127.0.21.2", "127.0.21.3"]);
    for (const n of spread.values()) assert.ok(n >= 5, `uneven spread: ${JSON.stringify([...spread])}`);
    // The kernel forwarded them: the balancer's own listener saw none.
    const s = await status();
    assert.equal(s.dataPath, "kernel");
    assert.equal(
      s.upstreams.reduce((sum, u) => sum + u.connectionsTotal, 0),
      0,
    );

    // An open connection keeps its upstream while the set changes under it.
    const socket = await lb.call<number>("open", { port });
    const first = await lb.call<string>("exchange", { socket, text: "ping" });
    const owner = keys.findIndex((k) => first.startsWith(`${k.slice(0, k.lastIndexOf(":"))}:`));
    assert.ok(owner >= 0, first);
    // The kernel's open connection shows in the status, on its upstream (counted from conntrack).
    const counted = await eventually("the open connection counted", async () => {
      const now = await status();
      return now.activeConnections === 1 ? now : undefined;
    });
    assert.equal(counted.upstreams.find((u) => u.address === keys[owner])?.activeConnections, 1);
    const victim = (owner + 1) % 3;
    await lb.call("kill", { upstream: victim });
    const killedAt = Date.now();
    await eventually(
      "the killed upstream out of the kernel map",
      async () => ((await status()).kernelUpstreams.includes(keys[victim]!) ? undefined : true),
      3000,
      20,
    );
    // Within the check interval, plus the time of one nft run on a busy machine.
    assert.ok(Date.now() - killedAt < 2000, `took ${Date.now() - killedAt} ms`);
    const afterKill = tally(await requests(20));
    assert.equal(afterKill.get(`127.0.21.${victim + 1}`), undefined, JSON.stringify([...afterKill]));
    assert.equal(
      [...afterKill.values()].reduce((a, b) => a + b),
      20,
    );
    assert.ok(
      [...afterKill.keys()].every((k) => k.startsWith("127.0.21.")),
      JSON.stringify([...afterKill]),
    );
    assert.equal(await lb.call<string>("exchange", { socket, text: "ping" }), first);

    // Back after two good checks.
    await lb.call("revive", { upstream: victim });
    await eventually("the revived upstream back in the map", async () =>
      (await status()).kernelUpstreams.includes(keys[victim]!) ? true : undefined,
    );
    assert.equal(tally(await requests(30)).size, 3);
  });

  it("moves to another port live: the new table replaces the old one", async () => {
    await lb.call("reconfigure", { settings: { port: 7447 } });
    await eventually("all three in the new map", async () =>
      (await status()).kernelUpstreams.length === 3 ? true : undefined,
    );
    const table = (await box.exec("nft", ["list", "table", "ip", "plinth_balancer"])).stdout;
    assert.match(table, /tcp dport 7447 dnat/);
    assert.doesNotMatch(table, /7445/);
    const before = (await status()).upstreams.reduce((sum, u) => sum + u.connectionsTotal, 0);
    assert.equal(tally(await lb.call<string[]>("requests", { port: 7447, count: 6 })).size, 3);
    assert.equal(
      (await status()).upstreams.reduce((sum, u) => sum + u.connectionsTotal, 0),
      before,
    );
    assert.match((await requests(1))[0]!, /^error: .*ECONNREFUSED/);
    await lb.call("reconfigure", { settings: { port } });
    await eventually("back on the first port", async () =>
      (await status()).kernelUpstreams.length === 3 && (await requests(1))[0]!.endsWith(":ping")
        ? true
        : undefined,
    );
  });

  it("takes out an upstream whose process dies without waiting for the next check", async () => {
    // Checks every 10 s: only the watch connection's reset can bring the news within 1.5 s.
    await lb.call("reconfigure", { settings: { healthCheck: { intervalMs: 10_000, timeoutMs: 500 } } });
    const before = (await status()).upstreams.find((u) => u.address === keys[1]);
    // A connection the upstream refused (conntrack would hand its translation to a new
    // connection from the same port) and an open one (which must stay).
    await addConntrackEntry(box, 40000, keys[1]!, "CLOSE");
    await addConntrackEntry(box, 40001, keys[1]!, "ESTABLISHED");
    await lb.call("kill", { upstream: 1 });
    await eventually(
      "the dead upstream out of the kernel map",
      async () => ((await status()).kernelUpstreams.includes(keys[1]!) ? undefined : true),
      1500,
      20,
    );
    const dead = (await status()).upstreams.find((u) => u.address === keys[1]);
    assert.equal(dead?.health, "unhealthy");
    // Taken out as a failed dial (the watch's re-check), not by a scheduled check.
    assert.equal(dead?.dialErrors, before!.dialErrors + 1);
    assert.equal(dead?.checkFailures, before!.checkFailures);
    assert.equal(tally(await requests(10)).get("127.0.21.2"), undefined);
    await eventually("the refused connection's entry deleted", async () =>
      (await conntrackStates(box, keys[1]!)).includes("CLOSE") ? undefined : true,
    );
    assert.ok((await conntrackStates(box, keys[1]!)).includes("ESTABLISHED"));
    await lb.call("revive", { upstream: 1 });
    await lb.call("reconfigure", { settings: { healthCheck: { intervalMs: 200, timeoutMs: 100 } } });
    await eventually("all three back in the map", async () =>
      (await status()).kernelUpstreams.length === 3 ? true : undefined,
    );
  });

  it("leaves new connections to the Node listener when no upstream is healthy", async () => {
    for (const upstream of [0, 1, 2]) await lb.call("kill", { upstream });
    await eventually("an empty kernel map", async () =>
      (await status()).kernelUpstreams.length === 0 ? true : undefined,
    );
    const [answer] = await requests(1);
    assert.match(answer!, /^error: /);
    assert.ok((await status()).refusedConnections >= 1, "the Node listener tried every upstream and refused");
    await lb.call("revive", { upstream: 2 });
    // Until the kernel has it again, the Node listener dials it (unhealthy ones are tried last).
    await eventually("a connection through the revived upstream", async () =>
      (await requests(1))[0] === "127.0.21.3:ping" ? true : undefined,
    );
    await eventually("the revived upstream in the map", async () =>
      (await status()).kernelUpstreams.length === 1 ? true : undefined,
    );
  });

  it("removes its table when the balancer closes, leaving the ruleset and sysctls as before", async () => {
    assert.notDeepEqual((await netState(box)).ruleset, beforeState.ruleset);
    await lb.call("close");
    assert.deepEqual(await netState(box), beforeState);
  });

  it("refuses the kernel data path where it cannot run, saying why", async () => {
    await assert.rejects(
      lb.call("start", { settings: { host: "::1", port: 0, dataPath: "kernel" } }),
      /Cannot use the kernel data path for the API balancer: it needs an IPv4 listen address, not ::1/,
    );
    assert.deepEqual(await netState(box), beforeState);
  });

  it("refuses an unknown data path, naming the field", () => {
    assert.throws(
      () => resolveSettings({ dataPath: "ebpf" as "node" }),
      /'dataPath' must be one of auto, node, kernel, current value is "ebpf"/,
    );
  });
});

describe("kernel data path to an upstream on another host", () => {
  let a: Sandbox;
  let b: Sandbox;
  let lb: SandboxedBalancer;
  let upstream: SandboxedBalancer;

  before(async () => {
    await requireNft();
    a = await createSandbox({ name: "lb-node" });
    b = await createSandbox({ name: "lb-cp" });
    // A veth pair between the two sandboxes: 10.231.0.1 (balancer) — 10.231.0.2 (control plane).
    await a.exec("ip", [
      "link",
      "add",
      "lbv0",
      "type",
      "veth",
      "peer",
      "name",
      "lbv1",
      "netns",
      String(b.pid),
    ]);
    for (const [box, link, address] of [
      [a, "lbv0", "10.231.0.1/24"],
      [b, "lbv1", "10.231.0.2/24"],
    ] as const) {
      await box.exec("ip", ["addr", "add", address, "dev", link]);
      await box.exec("ip", ["link", "set", link, "up"]);
    }
    lb = startSandboxedBalancer(a);
    upstream = startSandboxedBalancer(b);
  });
  after(async () => {
    await lb?.stop();
    await upstream?.stop();
    await a?.destroy();
    await b?.destroy();
  });

  it("sets route_localnet and masquerades while active, and restores both on a switch to Node", async () => {
    const before = await netState(a);
    assert.equal(before.routeLocalnet, "0");
    const [key] = await upstream.call<string[]>("upstreams", { hosts: ["10.231.0.2"] });
    await lb.call("start", {
      settings: {
        port: 7445,
        upstreams: [key],
        dataPath: "auto",
        healthCheck: { intervalMs: 200, timeoutMs: 100 },
      },
    });
    await eventually("the remote upstream in the kernel map", async () =>
      (await lb.call<BalancerStatus>("status")).kernelUpstreams.length === 1 ? true : undefined,
    );
    assert.equal(
      (await lb.call<BalancerStatus>("status")).dataPath,
      "kernel",
      "auto picks the kernel as root",
    );
    assert.equal((await netState(a)).routeLocalnet, "1");
    assert.deepEqual(await lb.call("requests", { port: 7445, count: 3 }), Array(3).fill("10.231.0.2:ping"));
    const viaKernel = (await lb.call<BalancerStatus>("status")).upstreams[0]!.connectionsTotal;
    assert.equal(viaKernel, 0);

    const switched = await lb.call<BalancerStatus>("reconfigure", { settings: { dataPath: "node" } });
    assert.equal(switched.dataPath, "node");
    assert.deepEqual(await netState(a), before);
    assert.deepEqual(await lb.call("requests", { port: 7445, count: 2 }), Array(2).fill("10.231.0.2:ping"));
    assert.equal((await lb.call<BalancerStatus>("status")).upstreams[0]!.connectionsTotal, 2);
  });

  it("after a crash, the next balancer still restores route_localnet as it was before the first", async () => {
    const before = await netState(a);
    const [key] = await upstream.call<string[]>("upstreams", { hosts: ["10.231.0.2"] });
    const settings = {
      port: 7446,
      upstreams: [key],
      dataPath: "kernel",
      healthCheck: { intervalMs: 200, timeoutMs: 100 },
    };
    const crashing = startSandboxedBalancer(a);
    await crashing.call("start", { settings });
    await eventually("the upstream in the map", async () =>
      (await crashing.call<BalancerStatus>("status")).kernelUpstreams.length === 1 ? true : undefined,
    );
    assert.equal((await netState(a)).routeLocalnet, "1");
    await crashing.kill();
    // The kernel keeps forwarding without the process.
    assert.match((await netState(a)).ruleset, /table ip plinth_balancer/);
    assert.deepEqual(await lb.call("requests", { port: 7446, count: 1 }), ["10.231.0.2:ping"]);

    const next = startSandboxedBalancer(a);
    try {
      await next.call("start", { settings });
      await eventually("the upstream in the new map", async () =>
        (await next.call<BalancerStatus>("status")).kernelUpstreams.length === 1 ? true : undefined,
      );
      await next.call("close");
      assert.deepEqual(await netState(a), before);
    } finally {
      await next.stop();
    }
  });
});
