import type { ValidationMode } from "../../config/checks/check-context.ts";
import type { Controller } from "../../runtime/controller/controller.ts";
import { createAddressConfigController } from "./config/address-config-controller.ts";
import { createFileConfigController } from "./config/file-config-controller.ts";
import { createHostnameConfigController } from "./config/hostname-config-controller.ts";
import { createLinkConfigController } from "./config/link-config-controller.ts";
import { createResolverConfigController } from "./config/resolver-config-controller.ts";
import { createRouteConfigController } from "./config/route-config-controller.ts";
import { createStaticHostsConfigController } from "./config/static-hosts-config-controller.ts";
import { createSysctlConfigController } from "./config/sysctl-config-controller.ts";
import { createFileController } from "./files/file-controller.ts";
import type { OperatorOptions } from "./internal/operator-options.ts";
import { createSysctlController } from "./kernel/sysctl-controller.ts";
import { createAddressController } from "./network/address-controller.ts";
import { createEtcHostsController } from "./network/etc-hosts-controller.ts";
import { createHostnameController } from "./network/hostname-controller.ts";
import { createLinkController } from "./network/link-controller.ts";
import { createResolvConfController } from "./network/resolv-conf-controller.ts";
import { createRouteController } from "./network/route-controller.ts";

export type { OperatorOptions } from "./internal/operator-options.ts";

export interface HostControllersOptions extends OperatorOptions {
  readonly mode: ValidationMode;
}

/**
 * The config and operator controllers for the machine itself: hostname, /etc/hosts,
 * /etc/resolv.conf, sysctls, files, links, addresses and routes.
 */
export function createHostControllers(options: HostControllersOptions): Controller[] {
  const { mode, ...operator } = options;
  return [...createHostConfigControllers({ mode }), ...createHostOperatorControllers(operator)];
}

/** The config controllers alone: pure functions of the config, safe to run on any state. */
export function createHostConfigControllers(options: { readonly mode: ValidationMode }): Controller[] {
  const { mode } = options;
  return [
    createHostnameConfigController({ mode }),
    createStaticHostsConfigController({ mode }),
    createResolverConfigController({ mode }),
    createSysctlConfigController({ mode }),
    createFileConfigController({ mode }),
    createLinkConfigController({ mode }),
    createAddressConfigController({ mode }),
    createRouteConfigController({ mode }),
  ];
}

/** The operator controllers alone: the only ones that touch the host. */
export function createHostOperatorControllers(operator: OperatorOptions): Controller[] {
  return [
    createHostnameController(operator),
    createEtcHostsController(operator),
    createResolvConfController(operator),
    createSysctlController(operator),
    createFileController(operator),
    createLinkController(operator),
    createAddressController(operator),
    createRouteController(operator),
  ];
}
