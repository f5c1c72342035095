import { describeCertificate } from "../../pki/certificate-info.ts";
import type { ValidatedDocument } from "../validate-documents.ts";
import type { CheckContext, SemanticCheck } from "./check-context.ts";

function checkIsCA(ctx: CheckContext, at: ValidatedDocument, path: readonly string[], pem: string): void {
  const info = describeCertificate(pem);
  if (!info.isCA) ctx.report(at, path, `expected a CA certificate, got ${info.subject} which is not a CA`);
}

/**
 * Control planes carry the API and etcd CA keys (they issue certificates and run etcd); workers
 * carry neither, and instead hold their own certificate or a bootstrap token to get one.
 */
export const checkTrust: SemanticCheck = (ctx) => {
  const machine = ctx.find("MachineConfig");
  const cluster = ctx.find("ClusterConfig");
  const secrets = ctx.find("MachineSecrets");
  if (secrets) {
    checkIsCA(ctx, secrets, ["certs", "api", "crt"], secrets.value.certs.api.crt);
    checkIsCA(ctx, secrets, ["certs", "etcd", "crt"], secrets.value.certs.etcd.crt);
  }
  if (machine) checkIsCA(ctx, machine, ["trust", "ca", "crt"], machine.value.trust.ca.crt);
  if (cluster?.value.etcd) checkIsCA(ctx, cluster, ["etcd", "ca", "crt"], cluster.value.etcd.ca.crt);
  if (!machine) return;
  const type = machine.value.type;
  const trust = machine.value.trust;
  if (type === "controlplane") {
    if (!trust.ca.key)
      ctx.report(machine, ["trust", "ca", "key"], "required on a controlplane: it issues certificates");
    if (cluster && !cluster.value.etcd) {
      ctx.report(cluster, ["etcd"], "required on a controlplane: it runs etcd");
    } else if (cluster?.value.etcd && !cluster.value.etcd.ca.key) {
      ctx.report(
        cluster,
        ["etcd", "ca", "key"],
        "required on a controlplane: a controlplane config carries the etcd CA key",
      );
    }
  } else {
    if (trust.ca.key) {
      ctx.report(
        machine,
        ["trust", "ca", "key"],
        "not allowed on a worker: a worker config must not carry the API CA key",
      );
    }
    if (cluster?.value.etcd?.ca.key) {
      ctx.report(
        cluster,
        ["etcd", "ca", "key"],
        "not allowed on a worker: a worker config does not carry the etcd CA key",
      );
    }
    if (!trust.token && !trust.certificate) {
      ctx.report(
        machine,
        ["trust"],
        "a worker needs 'token' or 'certificate' to authenticate to the control plane",
      );
    }
  }
};
