import { formatIp, formatPrefix, parseIp, parsePrefix } from "../../../config/net/ip.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { RouteSpec } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** Route documents → one RouteSpec per route name, addresses in canonical text. */
export function createRouteConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("RouteConfigController", {
    ...options,
    output: RouteSpec,
    *specs(config) {
      for (const doc of config.all("Route")) {
        const destination = parsePrefix(doc.destination)!; // validated by the config schema
        yield [
          doc.name,
          {
            destination: formatPrefix(destination),
            ...(doc.gateway !== undefined ? { gateway: formatIp(parseIp(doc.gateway)!) } : {}),
            ...(doc.link !== undefined ? { link: doc.link } : {}),
            metric: doc.metric,
            family: destination.address.family,
          },
        ];
      }
    },
  });
}
