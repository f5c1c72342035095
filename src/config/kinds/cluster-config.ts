import { z } from "zod";
import { absolutePath, certificateAuthority, clusterId, clusterSecret, objectName, url } from "../fields.ts";
import { defineKind } from "../kind-definition.ts";

export const ClusterConfig = defineKind({
  kind: "ClusterConfig",
  description:
    "The cluster this machine belongs to: its name, id and shared secret, the control-plane endpoint, and " +
    "etcd (the etcd CA, with its key on control planes only). Discovery is configured by the `Discovery` document.",
  fields: {
    name: objectName().describe("the cluster's name"),
    id: clusterId().describe("random, URL-safe cluster id; names the cluster at the discovery service"),
    secret: clusterSecret().describe(
      "32 random bytes, base64: encrypts discovery records and is the mesh's pre-shared key",
    ),
    controlPlane: z
      .strictObject({
        endpoint: url().describe("URL of the control plane, e.g. https://10.5.0.2:6443"),
      })
      .describe("how machines reach the control plane"),
    etcd: z
      .strictObject({
        ca: certificateAuthority("etcd").describe("the etcd CA; its key is required on control planes"),
        dataDir: absolutePath().default("/var/lib/plinth/etcd").describe("etcd's data directory"),
        extraArgs: z
          .record(
            z
              .string()
              .regex(/^[a-z][a-z0-9-]*$/, { message: "expected an etcd flag name like election-timeout" }),
            z.string(),
          )
          .default({})
          .describe("extra etcd flags, name to value, without the leading `--`"),
      })
      .optional()
      .describe("etcd settings; required on control planes"),
  },
  example: `apiVersion: v1alpha1
kind: ClusterConfig
name: demo
id: 3Ztm0hBqk8GQ7cKY1n2wXpLr5sVdAfJe9uTyHoIbCzE
secret: q3cRk1PjYtU0xvqG8s9jzjGkYl5pWwVvP6dFsTn8b0Q=
controlPlane:
  endpoint: https://10.5.0.2:6443
etcd:
  ca:
    crt: |
      -----BEGIN CERTIFICATE-----
      ...
      -----END CERTIFICATE-----
    key: |
      -----BEGIN PRIVATE KEY-----
      ...
      -----END PRIVATE KEY-----
  extraArgs:
    election-timeout: "5000"
`,
});
