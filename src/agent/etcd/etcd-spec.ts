import type { NetworkInterfaceInfo } from "node:os";
import { join } from "node:path";
import type { ConfigBundle } from "../../config/config-bundle.ts";
import type { SpecOf } from "../../runtime/resource/definition.ts";
import type { EtcdRootSecret, EtcdSpec } from "../resources/etcd.ts";

export const etcdClientPort = 2379;
export const etcdPeerPort = 2380;

export type EtcdSpecContent = SpecOf<typeof EtcdSpec>;
export type EtcdRootSecretContent = SpecOf<typeof EtcdRootSecret>;

export interface EtcdSpecFacts {
  /** The agent's --listen host, when given; else MachineConfig.api.listenAddress is used. */
  readonly listenHost?: string;
  readonly interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
  readonly hostname: string;
  readonly stateDir: string;
  /**
   * Keep etcd's data in ClusterConfig.etcd.dataDir (an agent running as root in host mode);
   * otherwise under the state dir, so that agents of tests and sandboxes never share it.
   */
  readonly useConfigDataDir: boolean;
}

const wildcard = new Set(["", "0.0.0.0", "::", "[::]"]);

/**
 * The address etcd binds to and advertises: the API's listen address when it is a specific one,
 * else the machine's first non-loopback IPv4 address, else its first non-loopback, non-link-local
 * IPv6 address, else 127.0.0.1.
 */
export function etcdAddress(listenHost: string | undefined, interfaces: EtcdSpecFacts["interfaces"]): string {
  if (listenHost !== undefined && !wildcard.has(listenHost)) return listenHost.replace(/^\[|\]$/g, "");
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const v4 = all.find((a) => a.family === "IPv4" && !a.internal);
  if (v4) return v4.address;
  const v6 = all.find(
    (a) => a.family === "IPv6" && !a.internal && !a.address.toLowerCase().startsWith("fe80"),
  );
  return v6?.address ?? "127.0.0.1";
}

/** `https://ADDR:PORT`, with IPv6 addresses in brackets. */
export function etcdUrl(address: string, port: number): string {
  return `https://${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/**
 * The member name: the hostname and the address, so that several members on one host (tests,
 * sandboxes sharing a UTS namespace) still have unique names.
 */
export function etcdMemberName(hostname: string, address: string): string {
  return `${hostname}-${address}`.replace(/[^A-Za-z0-9.-]+/g, "-");
}

/**
 * The etcd spec and CA of a control plane's config; undefined for workers and for configs without
 * etcd (or without the etcd CA key, which only control planes carry).
 */
export function etcdSpecFromConfig(
  bundle: ConfigBundle,
  facts: EtcdSpecFacts,
): { spec: EtcdSpecContent; rootSecret: EtcdRootSecretContent } | undefined {
  const mc = bundle.find("MachineConfig");
  const cc = bundle.find("ClusterConfig");
  if (mc?.type !== "controlplane" || !cc?.etcd?.ca.key) return undefined;
  const address = etcdAddress(facts.listenHost ?? mc.api.listenAddress, facts.interfaces);
  const clientUrl = etcdUrl(address, etcdClientPort);
  const endpointHost = new URL(cc.controlPlane.endpoint).hostname.replace(/^\[|\]$/g, "");
  const joinUrl = etcdUrl(endpointHost, etcdClientPort);
  const etcdDir = join(facts.stateDir, "etcd");
  return {
    spec: {
      name: etcdMemberName(facts.hostname, address),
      address,
      clientUrl,
      peerUrl: etcdUrl(address, etcdPeerPort),
      dataDir: facts.useConfigDataDir ? cc.etcd.dataDir : join(etcdDir, "data"),
      pkiDir: join(etcdDir, "pki"),
      clusterToken: cc.name,
      joinEndpoints: joinUrl === clientUrl ? [] : [joinUrl],
      extraArgs: { ...cc.etcd.extraArgs },
    },
    rootSecret: { crt: cc.etcd.ca.crt, key: cc.etcd.ca.key },
  };
}
