import assert from "node:assert/strict";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { createCA, issueCert } from "../../pki/index.ts";
import { measureClockOffset, offsetBounds } from "./clock-offset.ts";

describe("clock offset", () => {
  it("bounds the peer's offset by its Date header's second and the round trip", () => {
    const sent = Date.parse("2026-01-01T00:00:10.200Z");
    const received = sent + 50;
    assert.deepEqual(offsetBounds(sent, received, "Thu, 01 Jan 2026 00:00:10 GMT"), {
      minMs: -250,
      maxMs: 800,
    });
    assert.deepEqual(offsetBounds(sent, received, "Thu, 01 Jan 2026 00:00:20 GMT"), {
      minMs: 9750,
      maxMs: 10800,
    });
    assert.throws(() => offsetBounds(sent, received, "soon"), /Date header 'soon' is not a date/);
  });

  it("reads the Date header of an HTTPS member that asks for a client certificate", async () => {
    const ca = await createCA({ commonName: "etcd-ca" });
    const server = await issueCert({ ca, subject: "etcd", sans: ["127.0.0.1"], usage: "server" });
    const client = await issueCert({ ca, subject: "plinth-agent", usage: "client" });
    let aheadMs = 30_000;
    const https = createServer(
      { cert: server.crt, key: server.key, ca: ca.crt, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        assert.equal(req.url, "/version");
        res.setHeader("Date", new Date(Date.now() + aheadMs).toUTCString());
        res.end('{"etcdserver":"3.5"}');
      },
    );
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
    try {
      const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
      const tls = { ca: ca.crt, cert: client.crt, key: client.key };
      const ahead = await measureClockOffset(url, tls);
      assert.ok(
        ahead.minMs > 28_000 && ahead.maxMs < 32_000 && ahead.minMs <= ahead.maxMs,
        JSON.stringify(ahead),
      );
      aheadMs = -30_000;
      const behind = await measureClockOffset(url, tls);
      assert.ok(behind.maxMs < -28_000 && behind.minMs > -32_000, JSON.stringify(behind));
      const stranger = await issueCert({
        ca: await createCA({ commonName: "other" }),
        subject: "x",
        usage: "client",
      });
      await assert.rejects(measureClockOffset(url, { ...tls, cert: stranger.crt, key: stranger.key }));
    } finally {
      https.closeAllConnections();
      await new Promise((r) => https.close(r));
    }
  });
});
