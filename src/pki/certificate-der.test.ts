import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { formatName, readName } from "./certificate-der.ts";
import { describeCertificate } from "./certificate-info.ts";
import { createCA } from "./create-ca.ts";
import { derOid, derTime, readDer, readOid } from "./der.ts";
import { issueCert } from "./issue-cert.ts";

const year = 365 * 24 * 60 * 60 * 1000;

describe("certificates written with Plinth's DER writer", () => {
  it("keep names that need UTF-8 and escaping, as Node's X.509 parser reads them", async () => {
    const ca = await createCA({ commonName: 'nœud, "racine"', organization: ["plinth+test"] });
    const info = describeCertificate(ca.crt);
    assert.equal(info.commonName, 'nœud, "racine"');
    assert.deepEqual(info.organization, ["plinth+test"]);
    assert.equal(info.subject, 'O=plinth\\+test, CN=nœud\\, \\"racine\\"');
    assert.match(new X509Certificate(ca.crt).subject, /CN=nœud/);
  });

  it("encode long extensions (multi-byte DER lengths) that Node and the reader agree on", async () => {
    const ca = await createCA({ commonName: "ca" });
    const sans = Array.from({ length: 40 }, (_, i) => `host-${i}.example.internal`);
    const cert = await issueCert({ ca, subject: "many", usage: "server", sans: [...sans, "10.0.0.1"] });
    const info = describeCertificate(cert.crt);
    assert.deepEqual(info.sans, [...sans, "10.0.0.1"]);
    assert.match(new X509Certificate(cert.crt).subjectAltName ?? "", /DNS:host-39\.example\.internal/);
  });

  it("write lifetimes past 2049 as GeneralizedTime", async () => {
    const now = new Date("2045-06-01T00:00:00Z");
    const ca = await createCA({ commonName: "long", now, validity: 10 * year });
    const node = new X509Certificate(ca.crt);
    assert.equal(node.validToDate.getUTCFullYear(), 2055);
    assert.equal(describeCertificate(ca.crt).notAfter.getTime(), node.validToDate.getTime());
    assert.equal(derTime(new Date("2050-01-01T00:00:00Z"))[0], 0x18);
    assert.equal(derTime(new Date("2049-12-31T23:59:59Z"))[0], 0x17);
  });

  it("round-trip object identifiers with multi-byte arcs", () => {
    for (const oid of ["2.5.29.17", "1.2.840.10045.4.3.2", "1.3.6.1.4.1.311.60.2.1.3"]) {
      const der = derOid(oid);
      assert.equal(readOid(der, readDer(der)), oid);
    }
  });

  it("refuse truncated DER naming the problem", () => {
    assert.throws(() => readName(Uint8Array.of(0x30, 0x05, 0x31)), /DER: element runs past the end/);
    assert.equal(formatName([]), "");
  });
});
