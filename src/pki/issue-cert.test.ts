import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { CertificateAndKey } from "./certificate-and-key.ts";
import { describeCertificate } from "./certificate-info.ts";
import { createCA } from "./create-ca.ts";
import { issueCert } from "./issue-cert.ts";
import { privateKeyAlgorithm } from "./keys.ts";
import { decodePem } from "./pem.ts";
import { verifyCertificate } from "./verify-certificate.ts";

const day = 24 * 60 * 60 * 1000;

describe("createCA and issueCert", () => {
  let ca: CertificateAndKey;
  before(async () => {
    ca = await createCA({ commonName: "plinth-api-ca", organization: ["plinth"] });
  });

  it("creates an Ed25519 CA valid for 10 years with a PKCS#8 key", () => {
    const info = describeCertificate(ca.crt);
    assert.equal(info.isCA, true);
    assert.equal(info.commonName, "plinth-api-ca");
    assert.equal(info.publicKeyAlgorithm, "Ed25519");
    const years = (info.notAfter.getTime() - Date.now()) / (365 * day);
    assert.ok(years > 9.99 && years <= 10, `CA lifetime ${years} years`);
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(privateKeyAlgorithm(decodePem(ca.key, "PRIVATE KEY")), "Ed25519");
  });

  it("issues a client certificate carrying the roles, valid for one year, that verifies against its CA", async () => {
    const client = await issueCert({ ca, subject: "admin", organization: ["os:admin"], usage: "client" });
    const result = await verifyCertificate(client.crt, { ca: ca.crt, usage: "client" });
    assert.ok(result.valid, result.valid ? "" : result.reason);
    assert.deepEqual(result.roles, ["os:admin"]);
    assert.equal(result.certificate.commonName, "admin");
    assert.equal(result.certificate.isCA, false);
    const days = (result.certificate.notAfter.getTime() - Date.now()) / day;
    assert.ok(days > 364 && days <= 365, `client lifetime ${days} days`);
  });

  it("keeps several roles in order", async () => {
    const cert = await issueCert({
      ca,
      subject: "ops",
      organization: ["os:operator", "os:etcd:backup"],
      usage: "client",
    });
    const result = await verifyCertificate(cert.crt, { ca: ca.crt });
    assert.ok(result.valid);
    assert.deepEqual(result.roles, ["os:operator", "os:etcd:backup"]);
  });

  it("puts IP and DNS SANs on a server certificate", async () => {
    const cert = await issueCert({
      ca,
      subject: "node-1",
      sans: ["10.5.0.2", "fd00::2", "node-1.example.com"],
      usage: "server",
    });
    const info = describeCertificate(cert.crt);
    assert.deepEqual([...info.sans].sort(), ["10.5.0.2", "fd00::2", "node-1.example.com"].sort());
    assert.ok((await verifyCertificate(cert.crt, { ca: ca.crt, usage: "server" })).valid);
    const asClient = await verifyCertificate(cert.crt, { ca: ca.crt, usage: "client" });
    assert.equal(asClient.valid, false);
  });

  it("reads back names and SANs that hold the characters a name's text form escapes", async () => {
    const cert = await issueCert({
      ca,
      subject: "ops, night + day=1",
      organization: ["os:reader", "team=a+b, c"],
      sans: ["a,b.example", "0:0:0:0:0:0:0:1"],
      usage: "client",
    });
    const info = describeCertificate(cert.crt);
    assert.equal(info.commonName, "ops, night + day=1");
    assert.deepEqual(info.organization, ["os:reader", "team=a+b, c"]);
    assert.deepEqual(info.sans, ["a,b.example", "::1"]);
    assert.equal(info.subject, "O=os:reader+O=team\\=a\\+b\\, c, CN=ops\\, night \\+ day\\=1");
  });

  it("a peer certificate serves both ends", async () => {
    const cert = await issueCert({ ca, subject: "etcd-1", usage: "peer" });
    assert.ok((await verifyCertificate(cert.crt, { ca: ca.crt, usage: "server" })).valid);
    assert.ok((await verifyCertificate(cert.crt, { ca: ca.crt, usage: "client" })).valid);
  });

  it("a certificate does not verify against another CA", async () => {
    const other = await createCA({ commonName: "plinth-api-ca", organization: ["plinth"] });
    const cert = await issueCert({ ca, subject: "admin", organization: ["os:admin"], usage: "client" });
    const result = await verifyCertificate(cert.crt, { ca: other.crt });
    assert.equal(result.valid, false);
    assert.match(result.valid ? "" : result.reason, /signature/);
  });

  it("an expired certificate is refused, naming the expiry", async () => {
    const cert = await issueCert({ ca, subject: "short", usage: "client", validity: day });
    const later = new Date(Date.now() + 2 * day);
    const result = await verifyCertificate(cert.crt, { ca: ca.crt, now: later });
    assert.equal(result.valid, false);
    assert.match(result.valid ? "" : result.reason, /expired at/);
  });

  it("issues a certificate that has already expired when 'now' lies in the past", async () => {
    // Whole seconds: certificates carry no milliseconds.
    const issued = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * day);
    const cert = await issueCert({ ca, subject: "old", usage: "client", now: issued, validity: day });
    const info = describeCertificate(cert.crt);
    assert.equal(info.notAfter.getTime(), issued.getTime() + day);
    const result = await verifyCertificate(cert.crt, { ca: ca.crt });
    assert.match(result.valid ? "" : result.reason, /CN=old expired at/);
  });

  it("never outlives its CA", async () => {
    const shortCa = await createCA({ commonName: "short-ca", validity: 10 * day });
    const cert = await issueCert({ ca: shortCa, subject: "x", usage: "client" });
    assert.equal(
      describeCertificate(cert.crt).notAfter.getTime(),
      describeCertificate(shortCa.crt).notAfter.getTime(),
    );
  });

  it("supports ECDSA P-256 for peers without Ed25519", async () => {
    const ecCa = await createCA({ commonName: "etcd-ca", algorithm: "ECDSA-P256" });
    const cert = await issueCert({ ca: ecCa, subject: "etcd", usage: "peer", algorithm: "ECDSA-P256" });
    assert.equal(describeCertificate(ecCa.crt).publicKeyAlgorithm, "ECDSA");
    assert.ok((await verifyCertificate(cert.crt, { ca: ecCa.crt })).valid);
  });

  it("refuses a leaf certificate as the CA and a key that is not the CA's", async () => {
    const leaf = await issueCert({ ca, subject: "leaf", usage: "client" });
    await assert.rejects(issueCert({ ca: leaf, subject: "x", usage: "client" }), /is not a CA certificate/);
    const other = await createCA({ commonName: "other" });
    await assert.rejects(
      issueCert({ ca: { crt: ca.crt, key: other.key }, subject: "x", usage: "client" }),
      /'ca.key' does not belong to 'ca.crt'/,
    );
  });

  it("names the bad argument and its value", async () => {
    await assert.rejects(createCA({ commonName: "" }), /'commonName' must be a non-empty string/);
    await assert.rejects(
      issueCert({ ca, subject: undefined as unknown as string, usage: "client" }),
      (err) =>
        err instanceof TypeError &&
        err.message ===
          "Cannot issue certificate: 'subject' must be a non-empty string, current value is undefined",
    );
    await assert.rejects(
      issueCert({ ca, subject: "x", usage: "bogus" as "client" }),
      /'usage' must be one of server, client, peer, current value is "bogus"/,
    );
    await assert.rejects(
      issueCert({ ca, subject: "x", usage: "client", validity: -5 }),
      (err) => err instanceof RangeError && /current value is -5/.test(err.message),
    );
  });
});
