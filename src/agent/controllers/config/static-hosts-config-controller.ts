import type { Controller } from "../../../runtime/controller/controller.ts";
import { StaticHostSpec } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** The StaticHosts document → one StaticHostSpec per address. */
export function createStaticHostsConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("StaticHostsConfigController", {
    ...options,
    output: StaticHostSpec,
    *specs(config) {
      for (const h of config.find("StaticHosts")?.hosts ?? []) {
        yield [h.ip, { ip: h.ip, aliases: h.aliases }];
      }
    },
  });
}
