import { formatPrefix, parsePrefix } from "../../../config/net/ip.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { AddressSpec, idFromText } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** Address documents → one AddressSpec per address, in canonical text (`fd00:5::2/64`). */
export function createAddressConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("AddressConfigController", {
    ...options,
    output: AddressSpec,
    *specs(config) {
      for (const doc of config.all("Address")) {
        for (const text of doc.addresses) {
          const prefix = parsePrefix(text)!; // validated by the config schema
          const address = formatPrefix(prefix);
          yield [
            idFromText(`${doc.name}/${address}`),
            { link: doc.name, address, family: prefix.address.family },
          ];
        }
      }
    },
  });
}
