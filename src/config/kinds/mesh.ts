import { z } from "zod";
import { ipPrefix, port } from "../fields.ts";
import { defineKind } from "../kind-definition.ts";
import { parseIp, parsePrefix } from "../net/ip.ts";

/** `10.0.0.1:51820` or `[fd00::1]:51820`. */
const endpointPattern = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/;

function isEndpoint(v: string): boolean {
  const m = endpointPattern.exec(v);
  if (!m) return false;
  const ip = parseIp(m[1] ?? m[2]!);
  const port = Number(m[3]);
  return ip !== undefined && (m[1] === undefined) === (ip.family === 4) && port >= 1 && port <= 65535;
}

export const Mesh = defineKind({
  kind: "Mesh",
  description:
    "The WireGuard full mesh between the cluster's nodes. Peers come from discovery, so an enabled mesh " +
    "needs an enabled `Discovery` document.",
  fields: {
    enabled: z.boolean().default(true).describe("whether the mesh runs"),
    mtu: z.number().int().min(1280).max(9000).default(1420).describe("MTU of the mesh link, at least 1280"),
    port: port().default(51820).describe("WireGuard UDP port"),
    allowDownPeerBypass: z
      .boolean()
      .default(false)
      .describe("send traffic for a down peer by the normal route instead of dropping it"),
    advertiseNetworks: z
      .array(ipPrefix())
      .default([])
      .describe("extra prefixes this node routes for the mesh"),
    extraEndpoints: z
      .array(
        z.string().refine(isEndpoint, {
          message: "expected ip:port like 203.0.113.7:51820 or [2001:db8::7]:51820",
        }),
      )
      .default([])
      .describe("more places where this node's mesh is reachable (e.g. a port forwarded on a NAT router)"),
    filters: z
      .strictObject({
        endpoints: z
          .array(
            z.string().refine((v) => parsePrefix(v.startsWith("!") ? v.slice(1) : v) !== undefined, {
              message: "expected a prefix like 10.0.0.0/8, or !10.0.0.0/8 to exclude it",
            }),
          )
          .default([])
          .describe("which of this node's addresses to announce as endpoints; `!` excludes"),
      })
      .prefault({})
      .describe("endpoint filters"),
  },
  example: `apiVersion: v1alpha1
kind: Mesh
enabled: true
mtu: 1420
port: 51820
advertiseNetworks: [192.168.10.0/24]
extraEndpoints: ["203.0.113.7:51820"]
filters:
  endpoints: [0.0.0.0/0, "!192.168.0.0/16"]
`,
});
