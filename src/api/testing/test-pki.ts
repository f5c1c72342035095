import "./reflect-metadata-shim.ts";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { type CertificateRole as Role, impersonatorRole } from "../../pki/roles.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Ed25519 throughout, as the cluster PKI uses: Node's TLS 1.3 accepts Ed25519 certificates and
// keys on both ends of mutual TLS.
const algorithm = { name: "Ed25519" } as const;

/** A certificate and its private key, both PEM. */
export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

export interface IssueOptions {
  readonly commonName: string;
  /** Organization values: the roles. */
  readonly organizations?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Adds serverAuth and a SAN for 127.0.0.1 and localhost. */
  readonly server?: boolean;
}

/** A throwaway PKI for tests: one API CA, its certificates, and a few deliberately bad ones. */
export interface TestPki {
  /** The API CA certificate, PEM. */
  readonly ca: string;
  /** A node certificate: serves the API (SAN 127.0.0.1) and forwards calls (os:impersonator). */
  readonly node: TestCert;
  /** A client certificate for each role. */
  readonly clients: Readonly<Record<Role, TestCert>>;
  /** A client certificate whose Organization names no Plinth role. */
  readonly noRole: TestCert;
  /** An os:admin client certificate that expired an hour ago. */
  readonly expired: TestCert;
  /** An os:admin client certificate signed by another CA. */
  readonly wrongCa: TestCert;
  issue(options: IssueOptions): Promise<TestCert>;
}

interface Authority {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

let serial = 1;
const hour = 3600_000;

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function createAuthority(name: string): Promise<Authority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - hour),
    notAfter: new Date(Date.now() + 24 * hour),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { cert, keys };
}

function escapeRdn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, "\\$1");
}

async function issueFrom(ca: Authority, options: IssueOptions): Promise<TestCert> {
  const keys = await generateKeys();
  const subject = [
    ...(options.organizations ?? []).map((o) => `O=${escapeRdn(o)}`),
    `CN=${escapeRdn(options.commonName)}`,
  ].join(", ");
  const usages = [x509.ExtendedKeyUsage.clientAuth];
  if (options.server) usages.push(x509.ExtendedKeyUsage.serverAuth);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    subject,
    issuer: ca.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - hour),
    notAfter: options.notAfter ?? new Date(Date.now() + 24 * hour),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages),
      ...(options.server
        ? [
            new x509.SubjectAlternativeNameExtension([
              { type: "ip", value: "127.0.0.1" },
              { type: "dns", value: "localhost" },
            ]),
          ]
        : []),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem"), key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") };
}

export async function createTestPki(): Promise<TestPki> {
  const ca = await createAuthority("plinth test API CA");
  const other = await createAuthority("some other CA");
  const client = (role: Role) =>
    issueFrom(ca, { commonName: role.replace(/^os:/, ""), organizations: [role] });
  const [admin, operator, reader, etcdBackup, impersonator] = await Promise.all([
    client("os:admin"),
    client("os:operator"),
    client("os:reader"),
    client("os:etcd:backup"),
    client(impersonatorRole),
  ]);
  return {
    ca: ca.cert.toString("pem"),
    node: await issueFrom(ca, { commonName: "node", organizations: [impersonatorRole], server: true }),
    clients: {
      "os:admin": admin,
      "os:operator": operator,
      "os:reader": reader,
      "os:etcd:backup": etcdBackup,
      "os:impersonator": impersonator,
    },
    noRole: await issueFrom(ca, { commonName: "nobody", organizations: ["example:staff"] }),
    expired: await issueFrom(ca, {
      commonName: "expired",
      organizations: ["os:admin"],
      notBefore: new Date(Date.now() - 3 * hour),
      notAfter: new Date(Date.now() - hour),
    }),
    wrongCa: await issueFrom(other, { commonName: "stranger", organizations: ["os:admin"] }),
    issue: (options) => issueFrom(ca, options),
  };
}
