import type { Etcd3 } from "etcd3";
import { issueCert } from "../../pki/index.ts";
import { translateEtcdError } from "../../runtime/state/backends/etcd/etcd-error.ts";
import type { EtcdRootSecretContent } from "./etcd-spec.ts";

export interface EtcdClients {
  /**
   * A client of the one member at `url` (no load balancing: callers choose whom they ask), with a
   * client certificate the agent issued itself from the etcd CA. Kept until `close`.
   */
  client(ca: EtcdRootSecretContent, url: string): Promise<Etcd3>;
  /** The agent's client certificate for the CA (PEM), for plain HTTPS calls to members. */
  clientCertificate(ca: EtcdRootSecretContent): Promise<{ crt: string; key: string }>;
  /** Closes every client. */
  close(): void;
}

/** Runs every call straight through: the callers try other members themselves. */
const passThrough = { execute: async <T>(fn: (context: unknown) => T) => fn({}) };

/** Deadline of a unary call unless the caller gives one; short, since a live member answers at once. */
export const etcdCallTimeoutMs = 3000;

/** Clients of etcd members, one per member and CA, shared by the agent's etcd code. */
export function createEtcdClients(): EtcdClients {
  const certs = new Map<string, Promise<{ crt: string; key: string }>>();
  const clients = new Map<string, Promise<Etcd3>>();

  function clientCert(ca: EtcdRootSecretContent) {
    let cert = certs.get(ca.crt);
    if (!cert) {
      cert = issueCert({ ca, subject: "plinth-agent", usage: "client" });
      certs.set(ca.crt, cert);
      cert.catch(() => certs.delete(ca.crt));
    }
    return cert;
  }

  async function open(ca: EtcdRootSecretContent, url: string): Promise<Etcd3> {
    const cert = await clientCert(ca);
    // Loaded with the first client: etcd3 and gRPC are a large part of the agent's start-up,
    // and only control planes running etcd need them.
    const { Etcd3 } = await import("etcd3");
    return new Etcd3({
      hosts: [url],
      credentials: {
        rootCertificate: Buffer.from(ca.crt),
        certChain: Buffer.from(cert.crt),
        privateKey: Buffer.from(cert.key),
      },
      defaultCallOptions: (call) => (call.isStream ? {} : { deadline: Date.now() + etcdCallTimeoutMs }),
      faultHandling: { host: () => passThrough as never, global: passThrough as never },
      grpcOptions: {
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1_000,
        "grpc.use_local_subchannel_pool": 1,
      },
    });
  }

  return {
    clientCertificate: clientCert,
    client(ca, url) {
      const key = `${ca.crt}\n${url}`;
      let c = clients.get(key);
      if (!c) {
        c = open(ca, url);
        clients.set(key, c);
        c.catch(() => clients.delete(key));
      }
      return c;
    },
    close() {
      for (const c of clients.values()) void c.then((x) => x.close()).catch(() => {});
      clients.clear();
    },
  };
}

/** Runs one call to a member, translating its failure into a PlinthError naming the action. */
export async function etcdCall<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateEtcdError(err, action);
  }
}

/** etcd's decimal member ids → the hexadecimal form etcdctl prints. */
export function memberIdHex(id: string | number | bigint): string {
  return BigInt(id).toString(16);
}

/** The hexadecimal id back to what the etcd client sends; throws naming the value when invalid. */
export function memberIdFromHex(hex: string): string {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) {
    throw new TypeError(`a member id is hexadecimal like 8e9e05c52164694d, current value is '${hex}'`);
  }
  return BigInt(`0x${hex}`).toString(10);
}
