import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CertificateAndKey, createCA, issueCert } from "../pki/index.ts";
import { keptOrIssued, renewBeforeMs } from "./kept-certificate.ts";

describe("keptOrIssued", () => {
  let dir: string;
  let ca: CertificateAndKey;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-kept-cert-"));
    ca = await createCA({ commonName: "api-ca" });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const want = (o: { ca?: string; sans?: string[] } = {}) => ({
    ca: o.ca ?? ca.crt,
    subject: "node-1",
    organization: ["os:impersonator"],
    sans: o.sans ?? ["127.0.0.1", "node-1"],
  });

  function counting(caCert: CertificateAndKey = ca, validity?: number) {
    const issuer = {
      issued: 0,
      issue: async () => {
        issuer.issued++;
        return issueCert({ ca: caCert, subject: "node-1", usage: "peer", ...(validity ? { validity } : {}) });
      },
    };
    return issuer;
  }

  it("issues once and keeps the certificate, readable by the owner only", async () => {
    const file = join(dir, "a.json");
    const issuer = counting();
    const first = await keptOrIssued(file, want(), issuer.issue);
    const second = await keptOrIssued(file, want({ sans: ["node-1", "127.0.0.1"] }), issuer.issue);
    assert.equal(issuer.issued, 1);
    assert.deepEqual(second, first);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it("issues again for other SANs or another CA", async () => {
    const file = join(dir, "b.json");
    const issuer = counting();
    await keptOrIssued(file, want(), issuer.issue);
    await keptOrIssued(file, want({ sans: ["10.0.0.5"] }), issuer.issue);
    const other = await createCA({ commonName: "other-ca" });
    await keptOrIssued(file, want({ ca: other.crt }), counting(other).issue);
    await keptOrIssued(file, want({ ca: other.crt }), issuer.issue);
    assert.equal(issuer.issued, 2);
  });

  it("issues again before the kept one expires", async () => {
    const file = join(dir, "c.json");
    const issuer = counting(ca, renewBeforeMs / 2);
    await keptOrIssued(file, want(), issuer.issue);
    await keptOrIssued(file, want(), issuer.issue);
    assert.equal(issuer.issued, 2);
  });
});
