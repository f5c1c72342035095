import type { Controller } from "../../../runtime/controller/controller.ts";
import { canonicalSysctlKey, idFromText, SysctlSpec } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** The Sysctls document → one SysctlSpec per key, keys in dot form. */
export function createSysctlConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("SysctlConfigController", {
    ...options,
    output: SysctlSpec,
    *specs(config) {
      for (const [written, value] of Object.entries(config.find("Sysctls")?.sysctls ?? {})) {
        const key = canonicalSysctlKey(written);
        yield [idFromText(key), { key, value }];
      }
    },
  });
}
