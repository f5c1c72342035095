import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { generateMeshKeyPair, isMeshKey, meshPresharedKey, meshPublicKey } from "./keys.ts";

function wgPubkey(privateKey: string): string {
  return execFileSync("wg", ["pubkey"], { input: `${privateKey}\n`, encoding: "utf8" }).trim();
}

describe("mesh keys", () => {
  it("derives the public key `wg pubkey` derives (known answer)", () => {
    // Pair made with `wg genkey | tee >(wg pubkey)`.
    assert.equal(
      meshPublicKey("MApQmC3NaaO1gjBle8u6dJ6Vd2sljPI93/HCTpefrWk="),
      "C3r2UGh+h9p0BxaKMWgLQhxbUpoy4XEvHCabglRw7V4=",
    );
  });

  it("generates clamped pairs whose public key matches `wg pubkey`", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const pair = generateMeshKeyPair();
      assert.ok(isMeshKey(pair.privateKey) && isMeshKey(pair.publicKey));
      assert.equal(pair.publicKey, wgPubkey(pair.privateKey));
      const raw = Buffer.from(pair.privateKey, "base64");
      assert.equal(raw[0]! & 7, 0);
      assert.equal(raw[31]! & 0xc0, 0x40);
      seen.add(pair.privateKey);
    }
    assert.equal(seen.size, 5);
  });

  it("derives the pre-shared key from the cluster secret with HKDF-SHA256", () => {
    // Known answer from `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:secret
    // -kdfopt "info:plinth mesh psk" HKDF`.
    assert.equal(meshPresharedKey("secret"), "SkastUpmWQUwgH9O5ny5PfG7G+Y5ADH1Okvme/pIHrs=");
    assert.notEqual(meshPresharedKey("secret2"), meshPresharedKey("secret"));
    assert.throws(() => meshPresharedKey(""), /clusterSecret/);
  });

  it("rejects keys that are not base64 of 32 bytes, naming the field", () => {
    assert.throws(() => meshPublicKey("abc"), { name: "TypeError", message: /'privateKey'.*3 characters/ });
    assert.equal(isMeshKey(`${"A".repeat(43)}=`), true);
    assert.equal(isMeshKey(`${"A".repeat(42)}==`), false);
  });
});
