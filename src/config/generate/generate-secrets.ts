import { createCA } from "../../pki/create-ca.ts";
import { randomBytes, toBase64, toBase64Url } from "../../pki/encoding.ts";
import { apiVersion } from "../fields.ts";
import type { DocumentOf } from "../kinds/index.ts";

export type MachineSecretsDocument = DocumentOf<"MachineSecrets">;

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Uniform random characters from the alphabet (rejection sampling avoids modulo bias). */
function randomToken(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 252 && out.length < length) out += tokenAlphabet[b % 36];
    }
  }
  return out;
}

export interface GenerateSecretsOptions {
  readonly now?: Date;
}

/**
 * A fresh secrets bundle: a URL-safe cluster id, a 32-byte cluster secret, a bootstrap token,
 * and Ed25519 CAs for the machine API and etcd. No mesh key material: each node makes its own
 * WireGuard key, and the cluster secret doubles as the pre-shared key.
 */
export async function generateSecrets(options: GenerateSecretsOptions = {}): Promise<MachineSecretsDocument> {
  const [api, etcd] = await Promise.all([
    createCA({ commonName: "plinth-api", organization: ["plinth"], now: options.now }),
    createCA({ commonName: "plinth-etcd", organization: ["plinth"], now: options.now }),
  ]);
  return {
    apiVersion,
    kind: "MachineSecrets",
    cluster: { id: toBase64Url(randomBytes(32)), secret: toBase64(randomBytes(32)) },
    bootstrapToken: `${randomToken(6)}.${randomToken(16)}`,
    certs: { api, etcd },
  };
}
