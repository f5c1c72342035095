import { readFileSync } from "node:fs";
import { type as osType, release } from "node:os";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  AffiliateSchema,
  EndpointSchema,
} from "../../../api/gen/sidero/discovery/client/affiliate_pb.ts";
import { parseIp } from "../../../config/net/ip.ts";

/** What this machine tells the other members about itself. */
export interface LocalFacts {
  readonly nodeId: string;
  readonly hostname: string;
  readonly addresses: readonly string[];
  readonly machineType: string;
  readonly operatingSystem: string;
  /** The machine API port, announced by control planes. */
  readonly apiPort?: number;
  /** The mesh's WireGuard port, when the mesh is enabled: every address is announced with it. */
  readonly meshPort?: number;
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
    },
    endpoints: facts.meshPort === undefined ? [] : ips.map((ip) => ({ ip, port: facts.meshPort })),
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
