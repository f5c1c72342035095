import type { Controller } from "../../../runtime/controller/controller.ts";
import { HostnameSpec, hostnameId } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** The Hostname document → HostnameSpec `hostname`. */
export function createHostnameConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("HostnameConfigController", {
    ...options,
    output: HostnameSpec,
    *specs(config) {
      const doc = config.find("Hostname");
      if (!doc) return;
      yield [
        hostnameId,
        doc.hostname !== undefined ? { hostname: doc.hostname } : { auto: "stable" as const },
      ];
    },
  });
}
