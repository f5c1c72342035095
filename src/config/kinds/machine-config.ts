import { z } from "zod";
import {
  absolutePath,
  bootstrapToken,
  certificateAndKey,
  certificateAuthority,
  duration,
  hostOrIp,
  ipAddress,
  port,
} from "../fields.ts";
import { defineKind } from "../kind-definition.ts";

export const machineTypes = ["controlplane", "worker"] as const;

export const MachineConfig = defineKind({
  kind: "MachineConfig",
  description:
    "What this machine is and how it is reached: its type, the machine API listener, install and upgrade " +
    "settings, and the trust material of the API (the API CA, and on control planes its key).",
  fields: {
    type: z
      .enum(machineTypes)
      .describe("`controlplane` runs etcd and may issue certificates; `worker` does neither"),
    api: z
      .strictObject({
        listenAddress: ipAddress().default("0.0.0.0").describe("address the machine API listens on"),
        port: port().default(50000).describe("TCP port of the machine API (mTLS)"),
        certSANs: z
          .array(hostOrIp())
          .default([])
          .describe("extra IP addresses and DNS names for the API server certificate"),
      })
      .prefault({})
      .describe("the machine API"),
    install: z
      .strictObject({
        dir: absolutePath()
          .default("/var/lib/plinth/install")
          .describe("directory holding the two install slots (A/B) of the agent"),
        bundle: z
          .string()
          .min(1)
          .optional()
          .describe("agent bundle to install or upgrade to: a path or an https URL"),
        healthTimeout: duration()
          .default("2m")
          .describe("how long a newly installed agent has to become healthy before the old slot is restored"),
      })
      .prefault({})
      .describe("install and upgrade settings"),
    trust: z
      .strictObject({
        ca: certificateAuthority("machine API").describe(
          "the API CA: clients and peers must present certificates it signed",
        ),
        certificate: certificateAndKey("machine API server")
          .optional()
          .describe("this machine's own API certificate; issued by the agent when absent"),
        token: bootstrapToken()
          .optional()
          .describe("bootstrap token a machine without the CA key presents to get its certificate"),
      })
      .describe("the machine's trust material for the API"),
  },
  example: `apiVersion: v1alpha1
kind: MachineConfig
type: controlplane
api:
  port: 50000
  certSANs: [10.5.0.2, cp-1.example.com]
install:
  dir: /var/lib/plinth/install
trust:
  ca:
    crt: |
      -----BEGIN CERTIFICATE-----
      ...
      -----END CERTIFICATE-----
    key: |
      -----BEGIN PRIVATE KEY-----
      ...
      -----END PRIVATE KEY-----
  token: abcdef.0123456789abcdef
`,
});
