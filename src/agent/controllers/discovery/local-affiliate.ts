import { readFileSync } from "node:fs";
import { type as osType, release } from "node:os";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  AffiliateSchema,
  EndpointSchema,
} from "../../../api/gen/sidero/discovery/client/affiliate_pb.ts";
import { parseIp, parsePrefix } from "../../../config/net/ip.ts";
import { parseEndpoint } from "../../mesh/mesh-endpoints.ts";

/** What this machine tells the other members about itself. */
export interface LocalFacts {
  readonly nodeId: string;
  readonly hostname: string;
  readonly addresses: readonly string[];
  readonly machineType: string;
  readonly operatingSystem: string;
  /** The machine API port, announced by control planes. */
  readonly apiPort?: number;
  /** The mesh of this machine, when it is enabled. */
  readonly mesh?: LocalMeshFacts;
}

/** What the other members need to make this machine a mesh peer (the public `KubeSpan` message). */
export interface LocalMeshFacts {
  readonly publicKey: string;
  /** The mesh address, without prefix length. */
  readonly address: string;
  /** Prefixes routed through this machine (`advertiseNetworks`). */
  readonly advertisedNetworks: readonly string[];
  /** Where the mesh can be reached, `ip:port` / `[v6]:port`, in the order to try them. */
  readonly endpoints: readonly string[];
}

function sealedPrefix(text: string): { ip: Uint8Array; bits: number } | undefined {
  const p = parsePrefix(text);
  return p ? { ip: p.address.bytes, bits: p.prefixLength } : undefined;
}

function endpointOf(text: string): { ip: Uint8Array; port: number } | undefined {
  const e = parseEndpoint(text);
  const ip = e ? parseIp(e.ip) : undefined;
  return e && ip ? { ip: ip.bytes, port: e.port } : undefined;
}

/** The record and endpoints to seal, in the public client-side schema. */
export function localAffiliate(facts: LocalFacts): {
  affiliate: MessageInitShape<typeof AffiliateSchema>;
  endpoints: MessageInitShape<typeof EndpointSchema>[];
} {
  const ips = facts.addresses.flatMap((a) => {
    const ip = parseIp(a);
    return ip ? [ip.bytes] : [];
  });
  return {
    affiliate: {
      nodeId: facts.nodeId,
      addresses: ips,
      hostname: facts.hostname,
      nodename: facts.hostname.split(".")[0] ?? facts.hostname,
      machineType: facts.machineType,
      operatingSystem: facts.operatingSystem,
      ...(facts.apiPort !== undefined ? { controlPlane: { apiServerPort: facts.apiPort } } : {}),
      ...(facts.mesh
        ? {
            kubespan: {
              publicKey: facts.mesh.publicKey,
              address: parseIp(facts.mesh.address)?.bytes ?? new Uint8Array(),
              additionalAddresses: facts.mesh.advertisedNetworks.flatMap((p) => sealedPrefix(p) ?? []),
            },
          }
        : {}),
    },
    endpoints: (facts.mesh?.endpoints ?? []).flatMap((e) => endpointOf(e) ?? []),
  };
}

let osName: string | undefined;

/** `PRETTY_NAME` of /etc/os-release, else the kernel's name and release. */
export function operatingSystem(): string {
  if (osName === undefined) {
    try {
      const m = readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)"?$/m);
      osName = m?.[1] || `${osType()} ${release()}`;
    } catch {
      osName = `${osType()} ${release()}`;
    }
  }
  return osName;
}
