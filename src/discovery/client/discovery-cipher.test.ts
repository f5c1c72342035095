import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { AffiliateSchema } from "../../api/gen/sidero/discovery/client/affiliate_pb.ts";
import { isPlinthError } from "../../errors/plinth-error.ts";
import { createDiscoveryCipher, discoveryKey } from "./discovery-cipher.ts";

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const ip4 = (...b: number[]) => new Uint8Array(b);

// Known answers. The public client (siderolabs/discovery-client, pkg/client) seals an affiliate
// as nonce ‖ AES-GCM(key, nonce, marshal(Affiliate)) and an endpoint as AES-ECB(len ‖ marshal ‖
// zero padding). The vectors below were computed outside Plinth from that description: the
// protobuf bytes encoded by hand from the schema, AES by Python's `cryptography` and, for the
// endpoints, checked again with `openssl enc -aes-256-ecb -nopad`. Key 00..1f, nonce 10..1b.
const affiliatePlain =
  "0a096e6f64652d69642d311204cb00710a121020010db800000000000000000000000a1a1163702d312e6578616d706c" +
  "652e74657374220463702d312a0c636f6e74726f6c706c616e65321c44656269616e20474e552f4c696e757820313320" +
  "28747269786965293a4a0a2c716673575a3949364777564974505779764658773162747139425665386f794e52506756" +
  "50794173496b343d1210fd0000000000000000000000000000011a080a04cb0071001018420308ab32";
const affiliateSealed =
  "101112131415161718191a1b77f7f6792dac17daae58390f0bb26922dd425e2e1acfefb1e7f9e2675e5454db50e95d19" +
  "e4c51ec24f18f729ebf563777692331690ff7bf6df6e1700d99bc7046b8c4d4c25ce675503e507e29ca48ad75cd7b2ea" +
  "28c87d76e99e5567ceb5d03554733cdfcac31eb85443db5f1d1ba1c50ff3a110afc8afb6c2ae8c9a09f4a06caca1b057" +
  "4fa097864fd8ff9dee992329ff5a292e1fb2ffddbcc4b78d8cf5ed2bc4d78f4d8ef891a1fb730bb39b3caa42986ba6bb" +
  "a923bccfcc277252765756b89b0a0b47c967ddd634";
const affiliate = {
  nodeId: "node-id-1",
  addresses: [ip4(203, 0, 113, 10), fromHex("20010db800000000000000000000000a")],
  hostname: "cp-1.example.test",
  nodename: "cp-1",
  machineType: "controlplane",
  operatingSystem: "Debian GNU/Linux 13 (trixie)",
  kubespan: {
    publicKey: "qfsWZ9I6GwVItPWyvFXw1btq9BVe8oyNRPgVPyAsIk4=",
    address: fromHex("fd000000000000000000000000000001"),
    additionalAddresses: [{ ip: ip4(203, 0, 113, 0), bits: 24 }],
  },
  controlPlane: { apiServerPort: 6443 },
};

describe("discovery cipher", () => {
  it("seals an affiliate exactly as the public client does (known answer)", () => {
    const cipher = createDiscoveryCipher(key, { nonce: () => fromHex("101112131415161718191a1b") });
    const sealed = cipher.sealAffiliate(affiliate);
    assert.equal(toHex(sealed), affiliateSealed);
    const opened = cipher.openAffiliate(fromHex(affiliateSealed));
    assert.equal(toHex(toBinary(AffiliateSchema, opened)), affiliatePlain);
    assert.equal(opened.kubespan?.additionalAddresses[0]?.bits, 24);
    assert.equal(opened.controlPlane?.apiServerPort, 6443);
  });

  it("seals endpoints deterministically, one or more AES blocks (known answers)", () => {
    const cipher = createDiscoveryCipher(key);
    const v4 = cipher.sealEndpoint({ ip: ip4(203, 0, 113, 10), port: 51820 });
    assert.equal(toHex(v4), "72fb1f30939203825338405dbde81f0e");
    const v6 = cipher.sealEndpoint({ ip: fromHex("20010db8000000000000000000000001"), port: 51820 });
    assert.equal(toHex(v6), "e2702633ca89239d5ee036a316dde237d604c19a74d2f45c1e624c2d38c4cca0");
    assert.deepEqual(cipher.openEndpoint(v6).ip, fromHex("20010db8000000000000000000000001"));
    assert.equal(cipher.openEndpoint(v4).port, 51820);
  });

  it("round-trips with random nonces: the same record seals differently each time", () => {
    const cipher = createDiscoveryCipher(key);
    const [one, two] = [cipher.sealAffiliate(affiliate), cipher.sealAffiliate(affiliate)];
    assert.notEqual(toHex(one), toHex(two));
    assert.equal(one.length, 12 + affiliatePlain.length / 2 + 16, "nonce ‖ ciphertext ‖ tag");
    for (const sealed of [one, two])
      assert.equal(toHex(toBinary(AffiliateSchema, cipher.openAffiliate(sealed))), affiliatePlain);
    const empty = cipher.openAffiliate(cipher.sealAffiliate({}));
    assert.equal(empty.nodeId, "");
    assert.equal(empty.kubespan, undefined);
  });

  it("refuses records of another key, and damaged ones, with invalid_argument", () => {
    const other = createDiscoveryCipher(new Uint8Array(32).fill(7));
    const sealed = createDiscoveryCipher(key).sealAffiliate(affiliate);
    const refused = (f: () => unknown, pattern: RegExp) =>
      assert.throws(
        f,
        (err) => isPlinthError(err) && err.code === "invalid_argument" && pattern.test(err.message),
      );
    refused(() => other.openAffiliate(sealed), /not sealed with this cluster's key/);
    const flipped = sealed.slice();
    flipped[20]! ^= 1;
    refused(() => createDiscoveryCipher(key).openAffiliate(flipped), /not sealed with this cluster's key/);
    refused(() => other.openAffiliate(sealed.subarray(0, 27)), /shorter than a nonce and a tag/);
    refused(() => other.openEndpoint(new Uint8Array(15)), /positive multiple of 16, current length is 15/);
  });

  it("refuses keys that are not 32 bytes, and derives the key from a base64 cluster secret", () => {
    assert.throws(
      () => createDiscoveryCipher(new Uint8Array(16)),
      /must be 32 bytes \(the cluster secret\), current length is 16/,
    );
    const secret = Buffer.from(key).toString("base64");
    assert.deepEqual(discoveryKey(secret), key);
    assert.throws(
      () => discoveryKey("c2hvcnQ="),
      /must be 32 bytes in base64, current value decodes to 5 bytes/,
    );
  });
});
