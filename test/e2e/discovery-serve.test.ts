// `plinth discovery serve` options end to end: snapshots that survive kill -9 and a graceful
// stop, the client address from the TCP peer (proxy headers ignored unless trusted), redirects
// in Hello, and TLS.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Cluster } from "../../src/api/gen/sidero/discovery/server/cluster_pb.ts";
import { startDiscoveryProcess } from "../../src/discovery/testing/discovery-process.ts";
import { createCA, issueCert } from "../../src/pki/index.ts";
import { runCli } from "../../src/testing/cli.ts";

const long = { seconds: 1800n, nanos: 0 };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("discovery serve options (real processes)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-discovery-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("restores the last snapshot after kill -9, and a graceful stop saves everything", async () => {
    const path = join(dir, "state.json");
    const server = await startDiscoveryProcess(["--snapshot-path", path, "--snapshot-interval", "100ms"]);
    const client = () => createClient(Cluster, createGrpcTransport({ baseUrl: server.url }));
    const [one, two] = [randomUUID(), randomUUID()];
    let c = client();
    await c.affiliateUpdate({
      clusterId: one,
      affiliateId: "a",
      affiliateData: new Uint8Array([1]),
      affiliateEndpoints: [new Uint8Array([5]), new Uint8Array([6])],
      ttl: long,
    });
    await c.affiliateUpdate({
      clusterId: two,
      affiliateId: "b",
      affiliateData: new Uint8Array([2]),
      ttl: long,
    });
    const shortLivedAt = Date.now();
    await c.affiliateUpdate({
      clusterId: two,
      affiliateId: "short-lived",
      affiliateData: new Uint8Array([3]),
      ttl: { seconds: 0n, nanos: 300e6 },
    });
    await eventually("a snapshot with all three affiliates", async () => {
      const text = await readFile(path, "utf8").catch(() => "");
      return (text.match(/"id":"(a|b|short-lived)"/g) ?? []).length === 3;
    });
    assert.equal(await server.kill("SIGKILL"), null);

    // Down for longer than the short TTL.
    await new Promise((r) => setTimeout(r, Math.max(0, shortLivedAt + 400 - Date.now())));
    await server.restart();
    c = client();
    const listed = async (clusterId: string) =>
      (await c.list({ clusterId })).affiliates.map(
        (a) => `${a.id}:${hex(a.data)}:${a.endpoints.map(hex).join(",")}`,
      );
    assert.deepEqual(await listed(one), ["a:01:05,06"]);
    assert.deepEqual(await listed(two), ["b:02:"], "what expired while the server was down is not restored");
    assert.match(server.output(), /restored the snapshot/);

    // A change right before SIGTERM is in the snapshot written on the way out.
    await c.affiliateUpdate({
      clusterId: one,
      affiliateId: "late",
      affiliateData: new Uint8Array([9]),
      ttl: long,
    });
    assert.equal(await server.kill("SIGTERM"), 0);
    await server.restart();
    c = client();
    assert.deepEqual((await listed(one)).sort(), ["a:01:05,06", "late:09:"]);
    assert.equal(await server.kill("SIGTERM"), 0);
  });

  it("refuses a snapshot file that is not one, naming it", async () => {
    const path = join(dir, "garbage.json");
    await writeFile(path, '{"format":"something else"}');
    const result = await runCli([
      "discovery",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--metrics",
      "off",
      "--snapshot-path",
      path,
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /snapshot .*garbage\.json is not a discovery snapshot: 'format' must be/);
  });

  it("takes the client address from the TCP peer, ignoring proxy headers it does not trust; redirects in Hello", async () => {
    const server = await startDiscoveryProcess(["--redirect-endpoint", "discovery.example.test:443"]);
    const transport = createGrpcTransport({
      baseUrl: server.url,
      nodeOptions: {
        createConnection: () =>
          net.connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.2" }),
      },
    });
    const hello = await createClient(Cluster, transport).hello(
      { clusterId: "c" },
      { headers: { "x-real-ip": "203.0.113.9", "x-forwarded-for": "198.51.100.1" } },
    );
    assert.deepEqual([...hello.clientIp], [127, 0, 0, 2]);
    assert.equal(hello.redirect?.endpoint, "discovery.example.test:443");
    assert.equal(await server.kill("SIGTERM"), 0);
  });

  it("serves TLS when given a certificate", async () => {
    const ca = await createCA({ commonName: "discovery test CA" });
    const cert = await issueCert({ ca, subject: "discovery", sans: ["127.0.0.1"], usage: "server" });
    await writeFile(join(dir, "tls.crt"), cert.crt);
    await writeFile(join(dir, "tls.key"), cert.key);
    const server = await startDiscoveryProcess([
      "--tls-cert",
      join(dir, "tls.crt"),
      "--tls-key",
      join(dir, "tls.key"),
    ]);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const c = createClient(
      Cluster,
      createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca: ca.crt } }),
    );
    const clusterId = randomUUID();
    await c.affiliateUpdate({ clusterId, affiliateId: "a", affiliateData: new Uint8Array([1]), ttl: long });
    assert.equal((await c.list({ clusterId })).affiliates.length, 1);
    assert.equal(await server.kill("SIGTERM"), 0);
  });
});
