import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

/** Another member of the cluster, as this machine learned of it (decrypted from discovery). */
export const Affiliate = defineResource({
  type: "Affiliate",
  namespace: "cluster",
  aliases: ["affiliates"],
  printColumns: [
    { name: "Hostname", path: "hostname" },
    { name: "Type", path: "machineType" },
    { name: "Addresses", path: "addresses" },
    { name: "Stale", path: "stale" },
  ],
  schema: z.strictObject({
    nodeId: z.string(),
    hostname: z.string(),
    nodename: z.string(),
    machineType: z.string(),
    operatingSystem: z.string(),
    addresses: z.array(z.string()),
    /** Where the node's mesh can be reached, `ip:port` (`[v6]:port`). */
    endpoints: z.array(z.string()),
    mesh: z
      .strictObject({
        publicKey: z.string(),
        address: z.string(),
        additionalPrefixes: z.array(z.string()),
      })
      .optional(),
    /** The machine API port of a control-plane node. */
    apiPort: z.number().int().optional(),
    /** Where this record came from. */
    source: z.enum(["discovery"]),
    /** The discovery service is unreachable: this is the last record known. */
    stale: z.boolean(),
  }),
});

export const discoveryStatusId = "discovery";

/** The discovery client of this machine: where it publishes, whether it is connected, what it saw. */
export const DiscoveryStatus = defineResource({
  type: "DiscoveryStatus",
  namespace: "cluster",
  aliases: ["discoverystatuses"],
  printColumns: [
    { name: "Endpoint", path: "endpoint" },
    { name: "Connected", path: "connected" },
    { name: "Affiliates", path: "affiliates" },
    { name: "Undecryptable", path: "undecryptable" },
  ],
  schema: z.strictObject({
    endpoint: z.string(),
    connected: z.boolean(),
    /** This machine's own record is at the service (as of the last refresh). */
    published: z.boolean(),
    /** This machine's address as the service sees it. */
    publicIp: z.string().optional(),
    affiliates: z.number().int(),
    /** Records of this cluster id that did not open with the cluster secret (ignored). */
    undecryptable: z.number().int(),
    lastError: z.string().optional(),
  }),
});

export const nodeIdentityId = "local";

/** This machine's id at the discovery service; random, kept until the machine is reset. */
export const NodeIdentity = defineResource({
  type: "NodeIdentity",
  namespace: "cluster",
  aliases: ["nodeidentities"],
  printColumns: [{ name: "Node ID", path: "nodeId" }],
  schema: z.strictObject({ nodeId: z.string() }),
});
