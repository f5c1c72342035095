import { z } from "zod";
import { bootstrapToken, certificateAndKey, clusterId, clusterSecret } from "../fields.ts";
import { defineKind } from "../kind-definition.ts";

export const MachineSecrets = defineKind({
  kind: "MachineSecrets",
  description:
    "The secrets bundle of a cluster, written by `plinth gen secrets` and read by `plinth gen config " +
    "--with-secrets`: cluster id and secret, bootstrap token, and the API and etcd CAs with their keys. " +
    "It stands alone in its file; keep it safe.",
  fields: {
    cluster: z
      .strictObject({
        id: clusterId().describe("random, URL-safe cluster id"),
        secret: clusterSecret().describe("32 random bytes, base64"),
      })
      .describe("cluster identity"),
    bootstrapToken: bootstrapToken().describe("token machines present to get their first certificate"),
    certs: z
      .strictObject({
        api: certificateAndKey("machine API CA").describe("signs machine API server and client certificates"),
        etcd: certificateAndKey("etcd CA").describe("signs etcd peer and client certificates"),
      })
      .describe("certificate authorities"),
  },
  example: `apiVersion: v1alpha1
kind: MachineSecrets
cluster:
  id: 3Ztm0hBqk8GQ7cKY1n2wXpLr5sVdAfJe9uTyHoIbCzE
  secret: q3cRk1PjYtU0xvqG8s9jzjGkYl5pWwVvP6dFsTn8b0Q=
bootstrapToken: abcdef.0123456789abcdef
certs:
  api:
    crt: |
      -----BEGIN CERTIFICATE-----
      ...
      -----END CERTIFICATE-----
    key: |
      -----BEGIN PRIVATE KEY-----
      ...
      -----END PRIVATE KEY-----
  etcd:
    crt: |
      -----BEGIN CERTIFICATE-----
      ...
      -----END CERTIFICATE-----
    key: |
      -----BEGIN PRIVATE KEY-----
      ...
      -----END PRIVATE KEY-----
`,
});
