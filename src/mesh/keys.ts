import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync } from "node:crypto";

/** X25519 key pair, base64 (WireGuard format). Generated with node:crypto (no `wg genkey`). */
export interface MeshKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

// PKCS#8 DER header of an X25519 private key: the 32 raw key bytes follow it.
const pkcs8X25519Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");

export function generateMeshKeyPair(): MeshKeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  const raw = Buffer.from(privateKey.export({ format: "jwk" }).d as string, "base64url");
  // Clamped as `wg genkey` does, so stored keys look like the ones WireGuard tools make.
  raw[0] = raw[0]! & 248;
  raw[31] = (raw[31]! & 127) | 64;
  const privateKeyB64 = raw.toString("base64");
  return { privateKey: privateKeyB64, publicKey: meshPublicKey(privateKeyB64) };
}

export function meshPublicKey(privateKey: string): string {
  const raw = decodeMeshKey(privateKey, "privateKey");
  const key = createPrivateKey({
    key: Buffer.concat([pkcs8X25519Prefix, raw]),
    format: "der",
    type: "pkcs8",
  });
  return Buffer.from(createPublicKey(key).export({ format: "jwk" }).x as string, "base64url").toString(
    "base64",
  );
}

/** The pre-shared key every mesh peer uses, derived from the cluster secret (HKDF-SHA256). */
export function meshPresharedKey(clusterSecret: string): string {
  if (typeof clusterSecret !== "string" || clusterSecret.length === 0) {
    throw new TypeError("Cannot derive the mesh pre-shared key: 'clusterSecret' must be a non-empty string");
  }
  return Buffer.from(hkdfSync("sha256", clusterSecret, Buffer.alloc(0), "plinth mesh psk", 32)).toString(
    "base64",
  );
}

/** Whether `key` is a WireGuard key: base64 of exactly 32 bytes. */
export function isMeshKey(key: unknown): key is string {
  return typeof key === "string" && /^[A-Za-z0-9+/]{43}=$/.test(key);
}

/** The raw 32 bytes of a base64 WireGuard key; TypeError naming `field` otherwise. */
export function decodeMeshKey(key: unknown, field: string): Buffer {
  if (!isMeshKey(key)) {
    const shown = typeof key === "string" ? `a string of ${key.length} characters` : typeof key;
    throw new TypeError(`'${field}' must be a WireGuard key (base64 of 32 bytes), got ${shown}`);
  }
  return Buffer.from(key, "base64");
}
