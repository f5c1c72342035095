import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Registry } from "prom-client";
import { freePort } from "../testing/free-port.ts";
import { type Balancer, type BalancerOptions, startBalancer } from "./balancer.ts";
import { listen } from "./listen.ts";
import { type Dial, dialTcp } from "./node-dialer.ts";
import { closed, eventually, exchange, openClient, request } from "./testing/loopback-client.ts";
import { startTestUpstream, type TestUpstream } from "./testing/test-upstream.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstreams(...hosts: string[]): Promise<TestUpstream[]> {
  const list = await Promise.all(hosts.map((h) => startTestUpstream(h)));
  cleanups.push(() => Promise.all(list.map((u) => u.kill())).then(() => {}));
  return list;
}

/** Fast checks so that tests see health change within a few hundred ms. */
async function balancer(ups: readonly TestUpstream[], options: BalancerOptions = {}): Promise<Balancer> {
  const b = await startBalancer({
    port: 0,
    upstreams: ups.map((u) => u.key),
    healthCheck: { intervalMs: 100, timeoutMs: 100 },
    ...options,
  });
  cleanups.push(() => b.close());
  return b;
}

const healthOf = (b: Balancer) => b.status().upstreams.map((u) => u.health);
const allHealthy = (b: Balancer) => healthOf(b).every((h) => h === "healthy");
const serverOf = (answer: string) => answer.slice(0, answer.indexOf(":"));

async function tally(port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = serverOf(await request(port));
    counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}

describe("API balancer over loopback", () => {
  it("spreads connections over equally fast upstreams and proxies both ways", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2", "127.0.10.3");
    // Equally fast upstreams: a busy test machine must not make one look slow or dead (a 100 ms
    // check timeout or a few ms of scheduling noise would), since that is not what is tested here.
    const b = await balancer(ups, {
      healthCheck: { intervalMs: 2000, timeoutMs: 2000 },
      tolerance: { absoluteMs: 50 },
    });
    await eventually("all upstreams healthy", () => allHealthy(b));
    // A first connect in a fresh process can be slow; the next check brings the minimum down.
    const latencies = () => b.status().upstreams.map((u) => u.latencyMs ?? Number.POSITIVE_INFINITY);
    await eventually(
      "equal latencies measured",
      () => Math.max(...latencies()) - Math.min(...latencies()) < 50,
    );
    const counts = await tally(b.address.port, 60);
    assert.deepEqual(Object.keys(counts).sort(), ["127.0.10.1", "127.0.10.2", "127.0.10.3"]);
    for (const n of Object.values(counts)) assert.ok(n >= 10, JSON.stringify(counts));
    assert.match(await request(b.address.port, "hello"), /^127\.0\.10\.[123]:hello$/);
  });

  it("fails over at once when an upstream is killed, and closes its open connections cleanly", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2", "127.0.10.3");
    const [a, dead, c] = ups as [TestUpstream, TestUpstream, TestUpstream];
    const b = await balancer(ups, { healthCheck: { intervalMs: 1000, timeoutMs: 500 } });
    await eventually("all upstreams healthy", () => allHealthy(b));
    // One open connection per upstream, each proven to reach its upstream.
    const held = new Map<string, Socket>();
    while (held.size < 3) {
      const s = await openClient(b.address.port);
      const who = serverOf(await exchange(s, "hold"));
      if (held.has(who)) s.destroy();
      else held.set(who, s);
    }
    await dead.kill();
    const killedAt = performance.now();
    const answers = await Promise.all(Array.from({ length: 12 }, () => request(b.address.port)));
    const failoverMs = performance.now() - killedAt;
    assert.ok(failoverMs < 1000, `new connections took ${failoverMs} ms`);
    assert.ok(
      answers.every((x) => serverOf(x) !== dead.name),
      answers.join(","),
    );
    assert.equal(b.status().upstreams[1]!.health, "unhealthy");
    // The connection to the dead upstream ends; the others still carry data.
    await closed(held.get(dead.name)!, 1000);
    assert.equal(serverOf(await exchange(held.get(a.name)!, "still")), a.name);
    assert.equal(serverOf(await exchange(held.get(c.name)!, "still")), c.name);
    await eventually(
      "the balancer dropped the dead connection",
      () => b.status().upstreams[1]!.activeConnections === 0,
    );
    for (const s of held.values()) s.destroy();
  });

  it("brings a revived upstream back after consecutive good checks", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2");
    const [, flaky] = ups as [TestUpstream, TestUpstream];
    const b = await balancer(ups);
    await eventually("all upstreams healthy", () => allHealthy(b));
    await flaky.kill();
    await eventually("the killed upstream marked down by its check", () => healthOf(b)[1] === "unhealthy");
    const before = flaky.served;
    assert.deepEqual(await tally(b.address.port, 6), { "127.0.10.1": 6 });
    await flaky.revive();
    await eventually("the revived upstream healthy", () => healthOf(b)[1] === "healthy", 2000);
    const counts = await tally(b.address.port, 10);
    assert.ok((counts["127.0.10.2"] ?? 0) >= 3, JSON.stringify(counts));
    assert.ok(flaky.served > before);
  });

  it("prefers the faster upstream: one behind an artificial delay gets no new connections", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2", "127.0.10.3");
    const slowHost = "127.0.10.2";
    const delayed: Dial = async (address, options) => {
      // 60 ms, so that a timer firing a little early still leaves it measured at 50 ms or more.
      if (address.host === slowHost) await sleep(60);
      return dialTcp(address, options);
    };
    const b = await balancer(ups, { dial: delayed, healthCheck: { intervalMs: 100, timeoutMs: 100 } });
    await eventually("all upstreams healthy", () => allHealthy(b));
    const counts = await tally(b.address.port, 30);
    assert.equal(counts[slowHost], undefined, JSON.stringify(counts));
    assert.ok(b.status().upstreams[1]!.latencyMs! >= 50);
    // The slow one is still a healthy fallback.
    await ups[0]!.kill();
    await ups[2]!.kill();
    assert.equal(serverOf(await request(b.address.port)), slowHost);
  });

  it("follows membership changes live and leaves open connections to a removed upstream alone", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2");
    const [first, second] = ups as [TestUpstream, TestUpstream];
    const b = await balancer([first]);
    await eventually("healthy", () => allHealthy(b));
    const old = await openClient(b.address.port);
    assert.equal(serverOf(await exchange(old, "x")), first.name);

    b.setUpstreams([first.key, second.key]);
    assert.deepEqual(
      b.status().upstreams.map((u) => u.address),
      [first.key, second.key],
    );
    await eventually("the new upstream checked", () => allHealthy(b));
    assert.deepEqual(Object.keys(await tally(b.address.port, 10)).sort(), [first.name, second.name]);

    b.setUpstreams([second.key]);
    assert.deepEqual(await tally(b.address.port, 5), { [second.name]: 5 });
    assert.equal(serverOf(await exchange(old, "after removal")), first.name);
    old.destroy();

    assert.throws(() => b.setUpstreams([second.key, "not an address"]), TypeError);
    assert.deepEqual(
      b.status().upstreams.map((u) => u.address),
      [second.key],
    );
  });

  it("tries every upstream, down ones included, before refusing a connection", async () => {
    const ups = await upstreams("127.0.10.1", "127.0.10.2");
    const [a, c] = ups as [TestUpstream, TestUpstream];
    // Checks far apart: only the data path learns about deaths and revivals here.
    const b = await balancer(ups, { healthCheck: { intervalMs: 60_000, timeoutMs: 500 } });
    await eventually("healthy", () => allHealthy(b));
    await a.kill();
    await c.kill();
    const client = await openClient(b.address.port);
    await closed(client, 1000);
    assert.equal(b.status().refusedConnections, 1);
    assert.deepEqual(healthOf(b), ["unhealthy", "unhealthy"]);

    await c.revive();
    assert.equal(serverOf(await request(b.address.port)), c.name);
    assert.deepEqual(
      b.status().upstreams.map((u) => u.dialErrors),
      [2, 1],
    );
  });

  it("keeps memory bounded when the client reads slower than the upstream writes", async () => {
    const total = 96 * 1024 * 1024;
    let accepted = 0;
    let firehoseSocket: Socket | undefined;
    const firehose = createServer((socket) => {
      firehoseSocket = socket;
      socket.on("error", () => {});
      const chunk = Buffer.alloc(256 * 1024, 7);
      const pump = () => {
        while (accepted < total) {
          accepted += chunk.length;
          if (!socket.write(chunk)) return;
        }
        socket.end();
      };
      socket.once("data", pump);
      socket.on("drain", pump);
    });
    const { port } = await listen(firehose, "127.0.10.4", 0);
    cleanups.push(() => {
      firehoseSocket?.destroy();
      return new Promise<void>((r) => firehose.close(() => r()));
    });
    const b = await balancer([], { upstreams: [`127.0.10.4:${port}`] });
    await eventually("healthy", () => allHealthy(b));

    const client = await openClient(b.address.port);
    client.pause();
    const buffersBefore = process.memoryUsage().arrayBuffers;
    client.write("go");
    await sleep(600);
    const stalledAt = accepted;
    await sleep(300);
    assert.equal(accepted, stalledAt, "the upstream kept writing into a stalled connection");
    assert.ok(
      accepted < 32 * 1024 * 1024,
      `${accepted} bytes left the upstream for a client that reads nothing`,
    );
    const grown = process.memoryUsage().arrayBuffers - buffersBefore;
    assert.ok(grown < 16 * 1024 * 1024, `buffers grew by ${grown} bytes`);

    let received = 0;
    client.on("data", (d: Buffer) => {
      received += d.length;
    });
    client.resume();
    await closed(client, 10_000);
    assert.equal(received, total);
  });

  it("forwards a half-close: the client's FIN reaches the upstream and the answer still comes back", async () => {
    const collector = createServer({ allowHalfOpen: true }, (socket) => {
      let n = 0;
      socket.on("data", (d: Buffer) => {
        n += d.length;
      });
      socket.on("end", () => socket.end(`got ${n} bytes`));
    });
    const { port } = await listen(collector, "127.0.10.5", 0);
    cleanups.push(() => new Promise<void>((r) => collector.close(() => r())));
    const b = await balancer([], { upstreams: [`127.0.10.5:${port}`] });
    await eventually("healthy", () => allHealthy(b));
    const client = await openClient(b.address.port, { allowHalfOpen: true });
    const answer = new Promise<string>((resolve) => {
      let text = "";
      client.on("data", (d: Buffer) => {
        text += d.toString();
      });
      client.on("end", () => resolve(text));
    });
    client.end(Buffer.alloc(100_000, 1));
    assert.equal(await answer, "got 100000 bytes");
    await closed(client, 1000);
    await eventually("the connection released", () => b.status().activeConnections === 0);
  });

  it("closes connections idle for longer than the idle timeout, and only those", async () => {
    const ups = await upstreams("127.0.10.1");
    const b = await balancer(ups, { idleTimeoutMs: 300 });
    await eventually("healthy", () => allHealthy(b));
    const idle = await openClient(b.address.port);
    const busy = await openClient(b.address.port);
    await exchange(idle, "once");
    const start = performance.now();
    for (let i = 0; i < 8; i++) {
      await exchange(busy, "tick");
      await sleep(60);
    }
    await closed(idle, 1000);
    assert.ok(performance.now() - start >= 250);
    assert.equal(busy.closed, false);
    assert.equal(serverOf(await exchange(busy, "still there")), "127.0.10.1");
    busy.destroy();
  });

  it("switches keep-alive on towards the upstream once a connection idles, and still closes it when idle", async () => {
    const ups = await upstreams("127.0.10.1");
    const keepAliveAt: number[] = [];
    const spying: Dial = async (address, options) => {
      const socket = await dialTcp(address, options);
      const setKeepAlive = socket.setKeepAlive.bind(socket);
      socket.setKeepAlive = ((enable?: boolean, delay?: number) => {
        keepAliveAt.push(performance.now());
        return setKeepAlive(enable, delay);
      }) as Socket["setKeepAlive"];
      return socket;
    };
    const b = await balancer(ups, { dial: spying, keepAliveAfterMs: 150, idleTimeoutMs: 450 });
    await eventually("healthy", () => allHealthy(b));
    const client = await openClient(b.address.port);
    await exchange(client, "x");
    const lastTraffic = performance.now();
    assert.deepEqual(keepAliveAt, [], "a fresh connection costs no keep-alive options");
    await closed(client, 2000);
    const closedAfter = performance.now() - lastTraffic;
    assert.equal(keepAliveAt.length, 1);
    assert.ok(
      keepAliveAt[0]! - lastTraffic >= 140 && keepAliveAt[0]! - lastTraffic < 420,
      String(keepAliveAt[0]! - lastTraffic),
    );
    assert.ok(closedAfter >= 430, `closed after ${closedAfter} ms of idling`);
  });

  it("closes a half-closed connection whose other side never ends after the half-closed timeout", async () => {
    const accepted: Socket[] = [];
    const stubborn = createServer({ allowHalfOpen: true }, (socket) => {
      accepted.push(socket);
      socket.on("error", () => {});
      socket.resume(); // reads the client's end and never ends its own side
    });
    const { port } = await listen(stubborn, "127.0.10.6", 0);
    cleanups.push(() => {
      for (const s of accepted) s.destroy();
      return new Promise<void>((r) => stubborn.close(() => r()));
    });
    const b = await balancer([], { upstreams: [`127.0.10.6:${port}`], halfClosedTimeoutMs: 250 });
    await eventually("healthy", () => allHealthy(b));
    const client = await openClient(b.address.port, { allowHalfOpen: true });
    client.resume();
    const endedAt = performance.now();
    client.end("bye");
    await closed(client, 2000);
    const after = performance.now() - endedAt;
    assert.ok(after >= 230, `closed ${after} ms after the half-close`);
    await eventually("released", () => b.status().activeConnections === 0);
  });

  it("refuses a bad port or an address in use with a clear error and keeps serving as before", async () => {
    const ups = await upstreams("127.0.10.1");
    const b = await balancer(ups);
    const port = b.address.port;
    await eventually("healthy", () => allHealthy(b));

    await assert.rejects(b.reconfigure({ port: 70000 }), {
      name: "RangeError",
      message: "Cannot configure API balancer: 'port' must be an integer in 0-65535, current value is 70000",
    });
    await assert.rejects(
      b.reconfigure({ healthCheck: { timeoutMs: 5000 } }),
      /'timeoutMs' must be > 0 and <= the interval/,
    );

    const squatter = createServer();
    const taken = (await listen(squatter, "127.0.0.1", 0)).port;
    cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())));
    await assert.rejects(b.reconfigure({ port: taken, idleTimeoutMs: 1 }), {
      name: "PlinthError",
      code: "failed_precondition",
      message: `Cannot listen on 127.0.0.1:${taken}: the address is already in use`,
    });
    await assert.rejects(startBalancer({ port: taken }), /127\.0\.0\.1:\d+: the address is already in use/);

    assert.equal(b.address.port, port);
    assert.equal(serverOf(await request(port)), "127.0.10.1");
    await sleep(50); // the refused idle timeout of 1 ms would have closed this by now
    const kept = await openClient(port);
    await sleep(30);
    assert.equal(serverOf(await exchange(kept, "x")), "127.0.10.1");
    kept.destroy();

    const next = await freePort();
    await b.reconfigure({ port: next });
    assert.equal(b.address.port, next);
    assert.equal(b.status().listen, `127.0.0.1:${next}`);
    assert.equal(serverOf(await request(next)), "127.0.10.1");
    await assert.rejects(openClient(port), /ECONNREFUSED/);
  });

  it("exports per-upstream metrics", async () => {
    const ups = await upstreams("127.0.10.1");
    const registry = new Registry();
    const b = await balancer(ups, { registry });
    await eventually("healthy", () => allHealthy(b));
    await request(b.address.port, "12345");
    await eventually("closed", () => b.status().activeConnections === 0);
    const text = await registry.metrics();
    const label = `{upstream="${ups[0]!.key}"}`;
    assert.match(text, new RegExp(`plinth_balancer_connections_total${escapeRegExp(label)} 1\\n`));
    assert.match(text, new RegExp(`plinth_balancer_sent_bytes_total${escapeRegExp(label)} 5\\n`));
    assert.match(text, new RegExp(`plinth_balancer_received_bytes_total${escapeRegExp(label)} 16\\n`));
    assert.match(text, new RegExp(`plinth_balancer_upstream_healthy${escapeRegExp(label)} 1\\n`));
    assert.match(text, /plinth_balancer_refused_connections_total 0\n/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
