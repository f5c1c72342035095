import { hostname, networkInterfaces } from "node:os";
import { impersonatorRole } from "../api/auth/roles.ts";
import type { ConfigBundle } from "../config/config-bundle.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { createCA, issueCert } from "../pki/index.ts";
import { keptOrIssued } from "./kept-certificate.ts";

export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  /** The API CA (PEM) clients and peers are verified against; absent in maintenance mode. */
  readonly ca?: string;
}

/** Every name this machine may be reached by: loopback, its hostname, its addresses. */
export function machineNames(extra: readonly string[] = []): string[] {
  const names = new Set(["127.0.0.1", "::1", "localhost", hostname(), ...extra]);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.address.startsWith("fe80")) names.add(a.address);
  }
  names.delete("0.0.0.0");
  names.delete("::");
  return [...names];
}

/** Maintenance mode: a throwaway self-signed certificate; clients connect with --insecure. */
export async function maintenanceTls(): Promise<ServerTls> {
  const ca = await createCA({ commonName: `plinth maintenance ${hostname()}` });
  const leaf = await issueCert({ ca, subject: hostname(), usage: "server", sans: machineNames() });
  return { cert: leaf.crt, key: leaf.key };
}

/**
 * The machine's API certificate: the one in the config, or one the machine issues itself with
 * the API CA key (control planes). It is a node certificate (`os:impersonator`): the machine
 * also presents it when it forwards fanned-out calls to other nodes.
 */
export async function configuredTls(
  bundle: ConfigBundle,
  listenAddress: string,
  /** Where the certificate the machine issues itself is kept between starts; none: issued each time. */
  options: { readonly keepIn?: string } = {},
): Promise<ServerTls> {
  const mc = bundle.get("MachineConfig");
  const ca = mc.trust.ca;
  if (mc.trust.certificate)
    return { cert: mc.trust.certificate.crt, key: mc.trust.certificate.key, ca: ca.crt };
  if (!ca.key) {
    throw new PlinthError(
      "failed_precondition",
      "MachineConfig.trust has neither 'certificate' nor the CA key: the machine cannot get an API certificate",
    );
  }
  const caKey = ca.key;
  const want = {
    ca: ca.crt,
    subject: hostname(),
    organization: [impersonatorRole],
    sans: machineNames([listenAddress, ...mc.api.certSANs]),
  };
  const issue = () =>
    issueCert({
      ca: { crt: ca.crt, key: caKey },
      subject: want.subject,
      organization: want.organization,
      sans: want.sans,
      usage: "peer",
    });
  const leaf = options.keepIn ? await keptOrIssued(options.keepIn, want, issue) : await issue();
  return { cert: leaf.crt, key: leaf.key, ca: ca.crt };
}
