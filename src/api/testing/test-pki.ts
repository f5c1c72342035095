import type { CertificateAndKey } from "../../pki/certificate-and-key.ts";
import { createCA } from "../../pki/create-ca.ts";
import { type IssueCertOptions, issueCert } from "../../pki/issue-cert.ts";
import { type CertificateRole, certificateRoles, impersonatorRole } from "../../pki/roles.ts";

/** A certificate and its private key, both PEM. */
export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

/** A throwaway PKI for tests: one API CA, its certificates, and a few deliberately bad ones. */
export interface TestPki {
  /** The API CA certificate, PEM. */
  readonly ca: string;
  /** A node certificate: serves the API (SAN 127.0.0.1) and forwards calls (os:impersonator). */
  readonly node: TestCert;
  /** A client certificate for each role. */
  readonly clients: Readonly<Record<CertificateRole, TestCert>>;
  /** A client certificate whose Organization names no Plinth role. */
  readonly noRole: TestCert;
  /** An os:admin client certificate that expired an hour ago. */
  readonly expired: TestCert;
  /** An os:admin client certificate signed by another CA. */
  readonly wrongCa: TestCert;
}

const hour = 3600_000;

async function issue(ca: CertificateAndKey, options: Omit<IssueCertOptions, "ca">): Promise<TestCert> {
  const { crt, key } = await issueCert({ ca, ...options });
  return { cert: crt, key };
}

/** Issued by the cluster PKI (src/pki), Ed25519 throughout, as a real cluster's are. */
export async function createTestPki(): Promise<TestPki> {
  const [ca, other] = await Promise.all([
    createCA({ commonName: "plinth test API CA" }),
    createCA({ commonName: "some other CA" }),
  ]);
  const clients = await Promise.all(
    certificateRoles.map(async (role) => {
      const cert = await issue(ca, {
        subject: role.replace(/^os:/, ""),
        organization: [role],
        usage: "client",
      });
      return [role, cert] as const;
    }),
  );
  return {
    ca: ca.crt,
    // Peer: the node serves the API and calls the other nodes' APIs with the same certificate.
    node: await issue(ca, {
      subject: "node",
      organization: [impersonatorRole],
      sans: ["127.0.0.1", "localhost"],
      usage: "peer",
    }),
    clients: Object.fromEntries(clients) as Record<CertificateRole, TestCert>,
    noRole: await issue(ca, { subject: "nobody", organization: ["example:staff"], usage: "client" }),
    // Issued two hours ago for one hour.
    expired: await issue(ca, {
      subject: "expired",
      organization: ["os:admin"],
      usage: "client",
      now: new Date(Date.now() - 2 * hour),
      validity: hour,
    }),
    wrongCa: await issue(other, { subject: "stranger", organization: ["os:admin"], usage: "client" }),
  };
}
