import type { CertificateAndKey } from "../../pki/certificate-and-key.ts";
import { issueCert } from "../../pki/issue-cert.ts";
import { roles as knownRoles, type Role } from "../../pki/roles.ts";
import { type ClientConfig, clientContext } from "../client-config.ts";

export interface GenerateClientConfigOptions {
  readonly contextName: string;
  readonly endpoints: readonly string[];
  readonly nodes?: readonly string[];
  /** The API CA with its key, which signs the client certificate. */
  readonly ca: CertificateAndKey;
  /** `os:admin` unless given. */
  readonly roles?: readonly Role[];
  /** Lifetime of the client certificate in ms; 1 year unless given. */
  readonly validity?: number;
  readonly now?: Date;
}

/** A client config with one context, holding a fresh client certificate for the roles. */
export async function generateClientConfig(options: GenerateClientConfigOptions): Promise<ClientConfig> {
  const roles = options.roles ?? ["os:admin"];
  for (const role of roles) {
    if (!knownRoles.includes(role)) {
      throw new TypeError(
        `Cannot generate client config: 'roles' must be from ${knownRoles.join(", ")}, current value is '${role}'`,
      );
    }
  }
  const client = await issueCert({
    ca: options.ca,
    subject: roles[0] === "os:admin" ? "admin" : roles.join("+"),
    organization: roles,
    usage: "client",
    validity: options.validity,
    now: options.now,
  });
  return {
    context: options.contextName,
    contexts: {
      [options.contextName]: clientContext({
        endpoints: options.endpoints,
        nodes: options.nodes,
        ca: options.ca.crt,
        crt: client.crt,
        key: client.key,
      }),
    },
  };
}
