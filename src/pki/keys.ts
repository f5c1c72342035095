import type { webcrypto } from "node:crypto";
import { decodePem, encodePem } from "./pem.ts";

// Types only: the code uses the platform's global WebCrypto.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcKeyImportParams = webcrypto.EcKeyImportParams;
type EcdsaParams = webcrypto.EcdsaParams;

/** Ed25519 is the default everywhere; ECDSA P-256 is there for peers that lack Ed25519. */
export type KeyAlgorithm = "Ed25519" | "ECDSA-P256";

export const keyAlgorithms: readonly KeyAlgorithm[] = ["Ed25519", "ECDSA-P256"];

const keyParams: Record<KeyAlgorithm, EcKeyImportParams | Algorithm> = {
  Ed25519: { name: "Ed25519" },
  "ECDSA-P256": { name: "ECDSA", namedCurve: "P-256" },
};

const signingParams: Record<KeyAlgorithm, Algorithm | EcdsaParams> = {
  Ed25519: { name: "Ed25519" },
  "ECDSA-P256": { name: "ECDSA", hash: "SHA-256" },
};

export function signingAlgorithm(algorithm: KeyAlgorithm): Algorithm | EcdsaParams {
  return signingParams[checkAlgorithm(algorithm)];
}

function checkAlgorithm(algorithm: string): KeyAlgorithm {
  if (!(keyAlgorithms as readonly string[]).includes(algorithm)) {
    throw new TypeError(
      `Cannot use key: 'algorithm' must be one of ${keyAlgorithms.join(", ")}, current value is '${algorithm}'`,
    );
  }
  return algorithm as KeyAlgorithm;
}

export type { CryptoKey, CryptoKeyPair };

export async function generateKeyPair(algorithm: KeyAlgorithm = "Ed25519"): Promise<CryptoKeyPair> {
  return (await globalThis.crypto.subtle.generateKey(keyParams[checkAlgorithm(algorithm)], true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

/** SubjectPublicKeyInfo DER, as a certificate carries the key. */
export async function exportPublicKeyDer(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", key));
}

/** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return encodePem("PRIVATE KEY", await globalThis.crypto.subtle.exportKey("pkcs8", key));
}

// DER of the algorithm identifiers inside PKCS#8: id-Ed25519 and id-ecPublicKey + prime256v1.
const ed25519Oid = [0x06, 0x03, 0x2b, 0x65, 0x70];
const ecPublicKeyOid = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

function contains(haystack: Uint8Array, needle: readonly number[], limit: number): boolean {
  const end = Math.min(haystack.length, limit) - needle.length;
  for (let i = 0; i <= end; i++) {
    if (needle.every((b, j) => haystack[i + j] === b)) return true;
  }
  return false;
}

/** Which algorithm a PKCS#8 private key is for, from its DER; undefined when neither. */
export function privateKeyAlgorithm(der: Uint8Array): KeyAlgorithm | undefined {
  // The algorithm identifier sits near the start; looking further could match key bytes.
  if (der[0] !== 0x30) return undefined;
  if (contains(der, ed25519Oid, 16)) return "Ed25519";
  if (contains(der, ecPublicKeyOid, 24)) return "ECDSA-P256";
  return undefined;
}

export interface ImportedPrivateKey {
  readonly key: CryptoKey;
  readonly algorithm: KeyAlgorithm;
}

/** Imports a PKCS#8 PEM private key for signing; throws a TypeError when it is not one. */
export async function importPrivateKeyPem(pem: string): Promise<ImportedPrivateKey> {
  const der = decodePem(pem, "PRIVATE KEY");
  const algorithm = privateKeyAlgorithm(der);
  if (!algorithm) {
    throw new TypeError("Cannot import private key: expected an Ed25519 or ECDSA P-256 PKCS#8 key");
  }
  try {
    const key = await globalThis.crypto.subtle.importKey("pkcs8", der, keyParams[algorithm], false, ["sign"]);
    return { key, algorithm };
  } catch (err) {
    throw new TypeError(`Cannot import private key: the ${algorithm} PKCS#8 key is malformed`, {
      cause: err,
    });
  }
}
