import { join } from "node:path";
import type { EtcdSpecContent } from "./etcd-spec.ts";

/** How etcd starts when its data dir is empty: a new cluster, or joining an existing one. */
export interface EtcdInitialCluster {
  readonly state: "new" | "existing";
  /** `name=peerURL,…` of every member, this one included. */
  readonly members: string;
}

/** The files the agent writes into the spec's pkiDir. */
export function etcdPkiFiles(pkiDir: string) {
  return {
    ca: join(pkiDir, "ca.crt"),
    cert: join(pkiDir, "member.crt"),
    key: join(pkiDir, "member.key"),
  };
}

/**
 * Flags the agent sets itself: extraArgs may not change them, since they carry the member's
 * identity, its TLS and where the agent reaches it.
 */
export const reservedEtcdFlags: ReadonlySet<string> = new Set([
  "name",
  "data-dir",
  "listen-client-urls",
  "advertise-client-urls",
  "listen-peer-urls",
  "initial-advertise-peer-urls",
  "initial-cluster",
  "initial-cluster-state",
  "initial-cluster-token",
  "cert-file",
  "key-file",
  "trusted-ca-file",
  "client-cert-auth",
  "peer-cert-file",
  "peer-key-file",
  "peer-trusted-ca-file",
  "peer-client-cert-auth",
]);

/**
 * etcd's command line. `initial` is given when the data dir is empty; with data, etcd ignores the
 * initial-cluster flags, so none are passed. Returns the extraArgs it refused too.
 */
export function etcdArgs(
  spec: EtcdSpecContent,
  initial: EtcdInitialCluster | undefined,
): { args: string[]; refused: string[] } {
  const pki = etcdPkiFiles(spec.pkiDir);
  const flags = new Map<string, string>([
    ["name", spec.name],
    ["data-dir", spec.dataDir],
    ["listen-client-urls", spec.clientUrl],
    ["advertise-client-urls", spec.clientUrl],
    ["listen-peer-urls", spec.peerUrl],
    ["initial-advertise-peer-urls", spec.peerUrl],
    ["cert-file", pki.cert],
    ["key-file", pki.key],
    ["trusted-ca-file", pki.ca],
    ["client-cert-auth", "true"],
    ["peer-cert-file", pki.cert],
    ["peer-key-file", pki.key],
    ["peer-trusted-ca-file", pki.ca],
    ["peer-client-cert-auth", "true"],
    ["logger", "zap"],
    ["log-outputs", "stderr"],
  ]);
  if (initial) {
    flags.set("initial-cluster", initial.members);
    flags.set("initial-cluster-state", initial.state);
    flags.set("initial-cluster-token", spec.clusterToken);
  }
  const refused: string[] = [];
  for (const [name, value] of Object.entries(spec.extraArgs)) {
    if (reservedEtcdFlags.has(name)) refused.push(name);
    else flags.set(name, value);
  }
  return { args: [...flags].map(([name, value]) => `--${name}=${value}`), refused };
}
