import type { Controller } from "../../../runtime/controller/controller.ts";
import { LinkSpec } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** Link documents → one LinkSpec per link name. */
export function createLinkConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("LinkConfigController", {
    ...options,
    output: LinkSpec,
    *specs(config) {
      for (const doc of config.all("Link")) {
        yield [
          doc.name,
          {
            name: doc.name,
            type: doc.type,
            up: doc.up,
            ...(doc.mtu !== undefined ? { mtu: doc.mtu } : {}),
            ...(doc.vlan ? { vlan: { parent: doc.vlan.parent, id: doc.vlan.id } } : {}),
            ...(doc.type === "bridge" ? { bridge: { ports: doc.bridge?.ports ?? [] } } : {}),
            ...(doc.veth ? { veth: { peer: doc.veth.peer } } : {}),
            ...(doc.type === "bond"
              ? {
                  bond: {
                    mode: doc.bond?.mode ?? "active-backup",
                    miimon: doc.bond?.miimon ?? 100,
                    ports: doc.bond?.ports ?? [],
                  },
                }
              : {}),
          },
        ];
      }
    },
  });
}
