import { parse } from "yaml";
import type { CertificateAndKey } from "../../pki/certificate-and-key.ts";
import { createCA } from "../../pki/create-ca.ts";
import { issueCert } from "../../pki/issue-cert.ts";
import { generateMachineConfig } from "../generate/generate-machine-config.ts";
import { generateSecrets, type MachineSecretsDocument } from "../generate/generate-secrets.ts";
import { stringifyDocuments } from "../stringify-config.ts";

/** Shared test material, made once per test process: secrets and the configs generated from them. */
export interface Fixtures {
  readonly secrets: MachineSecretsDocument;
  readonly controlplane: unknown[];
  readonly worker: unknown[];
  /** A leaf (non-CA) certificate, for checks that want a CA. */
  readonly leaf: CertificateAndKey;
  /** Fills the `...` PEM placeholders of the docs' examples with real material. */
  fillPlaceholders(yamlText: string): string;
}

let cached: Promise<Fixtures> | undefined;

export function fixtures(): Promise<Fixtures> {
  cached ??= (async () => {
    const secrets = await generateSecrets();
    const leaf = await issueCert({ ca: secrets.certs.api, subject: "leaf", usage: "client" });
    const other = await createCA({ commonName: "example" });
    const options = { clusterName: "demo", endpoint: "https://10.5.0.2:6443", secrets };
    const indent = (pem: string, pad: string) =>
      pem
        .trimEnd()
        .split("\n")
        .map((l) => pad + l)
        .join("\n");
    return {
      secrets,
      leaf,
      controlplane: generateMachineConfig("controlplane", options),
      worker: generateMachineConfig("worker", options),
      fillPlaceholders: (text) =>
        text
          .replace(/^( *)-----BEGIN CERTIFICATE-----\n *\.\.\.\n *-----END CERTIFICATE-----/gm, (_, pad) =>
            indent(other.crt, pad),
          )
          .replace(/^( *)-----BEGIN PRIVATE KEY-----\n *\.\.\.\n *-----END PRIVATE KEY-----/gm, (_, pad) =>
            indent(other.key, pad),
          ),
    };
  })();
  return cached;
}

/** YAML text of documents, for tests that go through the parser. */
export function yamlOf(...docs: unknown[]): string {
  return stringifyDocuments(docs);
}

/** One document from YAML text written in a test. */
export function doc(text: string): unknown {
  return parse(text);
}
