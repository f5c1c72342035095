import type { Controller } from "../../../runtime/controller/controller.ts";
import { ResolverSpec, resolverSpecId } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** The Resolvers document → ResolverSpec `resolvers`. */
export function createResolverConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("ResolverConfigController", {
    ...options,
    output: ResolverSpec,
    *specs(config) {
      const doc = config.find("Resolvers");
      if (doc) yield [resolverSpecId, { nameservers: doc.nameservers, searchDomains: doc.searchDomains }];
    },
  });
}
