import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseWgDump } from "./peers.ts";
import { parseWgDumpFull } from "./wg-dump.ts";

const dump = [
  "IEHvk7Y53PJvT03hL4QQKDMjMLH4QdvETnxN9GqDXE0=\txMR29Hape7Kjg7SV1b3XQOK7PnVRHQIoc5ijRGo4Vlw=\t5000\t0x20",
  "FlDfyWxmwe6DUghOaD/3PzCTZmZb9KFr/kpaU5A4Vhg=\tSQG5VDz5ffM4I75pLLQT1oxBqUPPZuYYHWVYhUQ9b/0=\t[fd00::2]:51820\t10.1.0.5/32,fd00::/64\t1763900000\t1234\t5678\t25",
  "C3r2UGh+h9p0BxaKMWgLQhxbUpoy4XEvHCabglRw7V4=\t(none)\t(none)\t(none)\t0\t0\t0\toff",
  "",
].join("\n");

describe("wg show dump parsing", () => {
  it("reads the interface line and every peer", () => {
    const d = parseWgDumpFull(dump);
    assert.deepEqual(d.iface, {
      privateKey: "IEHvk7Y53PJvT03hL4QQKDMjMLH4QdvETnxN9GqDXE0=",
      publicKey: "xMR29Hape7Kjg7SV1b3XQOK7PnVRHQIoc5ijRGo4Vlw=",
      listenPort: 5000,
      fwmark: 0x20,
    });
    assert.equal(d.peers[0]?.presharedKey, "SQG5VDz5ffM4I75pLLQT1oxBqUPPZuYYHWVYhUQ9b/0=");
    assert.equal(d.peers[0]?.persistentKeepaliveS, 25);
    assert.equal(d.peers[1]?.presharedKey, undefined);
    assert.equal(d.peers[1]?.persistentKeepaliveS, 0);
  });

  it("gives peer states without pre-shared keys, handshakes in epoch ms", () => {
    assert.deepEqual(parseWgDump(dump), [
      {
        publicKey: "FlDfyWxmwe6DUghOaD/3PzCTZmZb9KFr/kpaU5A4Vhg=",
        endpoint: "[fd00::2]:51820",
        latestHandshakeMs: 1763900000_000,
        rxBytes: 1234,
        txBytes: 5678,
        allowedIps: ["10.1.0.5/32", "fd00::/64"],
      },
      {
        publicKey: "C3r2UGh+h9p0BxaKMWgLQhxbUpoy4XEvHCabglRw7V4=",
        latestHandshakeMs: 0,
        rxBytes: 0,
        txBytes: 0,
        allowedIps: [],
      },
    ]);
  });

  it("fails on a line of the wrong shape", () => {
    assert.throws(() => parseWgDump("a\tb\tc\n"), /interface line: 3 fields/);
    assert.throws(() => parseWgDump(`${dump.split("\n")[0]}\nx\ty\n`), /peer line 1: 2 fields/);
  });
});
