import { impersonatorRole } from "../api/auth/roles.ts";
import { fixtures } from "../config/testing/fixtures.ts";
import { type CertificateAndKey, issueCert } from "../pki/index.ts";

/** The fixtures' worker config, serving the machine API on 127.0.0.1 with its own certificate. */
export interface WorkerServingApi {
  /** The API CA certificate (PEM) both certificates below are signed by. */
  readonly ca: string;
  /** The agent's server certificate: SAN 127.0.0.1, the impersonator role (fan-out). */
  readonly server: CertificateAndKey;
  /** An os:admin client certificate. */
  readonly admin: CertificateAndKey;
  /** The worker config's documents, its MachineConfig's trust carrying `server`. */
  readonly documents: Record<string, Record<string, unknown>>[];
}

export async function workerServingApi(subject: string): Promise<WorkerServingApi> {
  const { secrets, worker } = await fixtures();
  const server = await issueCert({
    ca: secrets.certs.api,
    subject,
    organization: [impersonatorRole],
    usage: "peer",
    sans: ["127.0.0.1"],
  });
  const admin = await issueCert({
    ca: secrets.certs.api,
    subject: "admin",
    organization: ["os:admin"],
    usage: "client",
  });
  const documents = structuredClone(worker) as Record<string, Record<string, unknown>>[];
  const machine = documents[0]!;
  machine.trust = { ...machine.trust, certificate: { crt: server.crt, key: server.key } };
  return { ca: secrets.certs.api.crt, server, admin, documents };
}
