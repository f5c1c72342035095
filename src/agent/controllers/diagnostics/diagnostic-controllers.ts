import type { Controller } from "../../../runtime/controller/controller.ts";
import { measureClockOffset } from "../../etcd/clock-offset.ts";
import type { EtcdClients } from "../../etcd/etcd-clients.ts";
import { sampleSystem } from "../../host/system-sample.ts";
import { createAddressConflictController } from "./address-conflict-controller.ts";
import { createClockSkewController } from "./clock-skew-controller.ts";
import { createCrashLoopController } from "./crash-loop-controller.ts";
import { createLowResourcesController } from "./low-resources-controller.ts";
import { createSystemResourcesController } from "./system-resources-controller.ts";

/** The controllers that observe this machine and report Diagnostics, wired to the real host. */
export function createDiagnosticControllers(options: {
  readonly stateDir: string;
  readonly etcdClients: EtcdClients;
}): Controller[] {
  return [
    createSystemResourcesController({ diskPath: options.stateDir, sample: sampleSystem }),
    createLowResourcesController(),
    createAddressConflictController(),
    createCrashLoopController(),
    createClockSkewController({
      measure: async (url, ca, signal) => {
        const cert = await options.etcdClients.clientCertificate(ca);
        return measureClockOffset(url, { ca: ca.crt, cert: cert.crt, key: cert.key }, { signal });
      },
    }),
  ];
}
