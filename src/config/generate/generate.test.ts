import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { describeCertificate } from "../../pki/certificate-info.ts";
import { fromBase64, fromBase64Url } from "../../pki/encoding.ts";
import { issueCert } from "../../pki/issue-cert.ts";
import { verifyCertificate } from "../../pki/verify-certificate.ts";
import { loadConfig } from "../load-config.ts";
import { stringifyDocuments } from "../stringify-config.ts";
import { type Fixtures, fixtures } from "../testing/fixtures.ts";
import { generateSecrets } from "./generate-secrets.ts";

describe("generated secrets and configs", () => {
  let fx: Fixtures;
  before(async () => {
    fx = await fixtures();
  });

  it("secrets hold a URL-safe id, a 32-byte secret, a bootstrap token and two Ed25519 CAs", () => {
    const { secrets } = fx;
    assert.equal(fromBase64Url(secrets.cluster.id)?.length, 32);
    assert.equal(fromBase64(secrets.cluster.secret)?.length, 32);
    assert.match(secrets.bootstrapToken, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    for (const ca of [secrets.certs.api, secrets.certs.etcd]) {
      const info = describeCertificate(ca.crt);
      assert.equal(info.isCA, true);
      assert.equal(info.publicKeyAlgorithm, "Ed25519");
    }
    assert.notEqual(secrets.certs.api.crt, secrets.certs.etcd.crt);
  });

  it("two runs never share secrets", async () => {
    const other = await generateSecrets();
    assert.notEqual(other.cluster.id, fx.secrets.cluster.id);
    assert.notEqual(other.cluster.secret, fx.secrets.cluster.secret);
    assert.notEqual(other.bootstrapToken, fx.secrets.bootstrapToken);
  });

  it("the secrets bundle round-trips through YAML and validates", () => {
    const result = loadConfig(stringifyDocuments([fx.secrets]));
    assert.ok(result.ok);
    assert.deepEqual(result.bundle.get("MachineSecrets"), fx.secrets);
  });

  it("the controlplane carries both CA keys, the worker neither", () => {
    const text = (docs: unknown[]) => stringifyDocuments(docs);
    assert.ok(text(fx.controlplane).includes(fx.secrets.certs.etcd.key.split("\n")[1]!));
    assert.ok(text(fx.controlplane).includes(fx.secrets.certs.api.key.split("\n")[1]!));
    assert.ok(!text(fx.worker).includes("PRIVATE KEY"));
    for (const docs of [fx.controlplane, fx.worker]) assert.ok(loadConfig(text(docs)).ok);
  });

  it("certificates issued from the generated API CA verify with the right roles", async () => {
    for (const role of ["os:admin", "os:operator", "os:reader", "os:etcd:backup"]) {
      const cert = await issueCert({
        ca: fx.secrets.certs.api,
        subject: role,
        organization: [role],
        usage: "client",
      });
      const result = await verifyCertificate(cert.crt, { ca: fx.secrets.certs.api.crt, usage: "client" });
      assert.ok(result.valid);
      assert.deepEqual(result.roles, [role]);
      const wrongCa = await verifyCertificate(cert.crt, { ca: fx.secrets.certs.etcd.crt });
      assert.equal(wrongCa.valid, false);
    }
  });
});
