import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import {
  AddressStatus,
  Affiliate,
  Diagnostic,
  NodeAddress,
  NodeIdentity,
  nodeIdentityId,
} from "../../resources/index.ts";
import { type DiagnosticSpec, reportDiagnostics } from "./report-diagnostics.ts";

const bare = (address: string) => address.split("/")[0]!.toLowerCase();

/**
 * Finds addresses used twice: one of this machine's addresses (NodeAddress `current`) that
 * another node announces too (its Affiliate), or one address on two of this machine's links.
 * Either breaks traffic to one of the two in ways no controller can repair.
 */
export function createAddressConflictController(): Controller {
  return {
    name: "AddressConflictController",
    inputs: [
      { namespace: "network", type: NodeAddress.type, id: "current", kind: "weak" },
      { namespace: "network", type: AddressStatus.type, kind: "weak" },
      { namespace: "cluster", type: Affiliate.type, kind: "weak" },
      { namespace: "cluster", type: NodeIdentity.type, id: nodeIdentityId, kind: "weak" },
    ],
    outputs: [{ type: Diagnostic.type, kind: "shared" }],
    async reconcile(ctx) {
      const found = new Map<string, DiagnosticSpec>();
      const mine = new Set(((await ctx.find(NodeAddress.ptr("current")))?.spec.addresses ?? []).map(bare));
      const others = new Map<string, string[]>();
      const self = (await ctx.find(NodeIdentity.ptr(nodeIdentityId)))?.spec.nodeId;
      for (const r of await ctx.list(Affiliate.kind())) {
        const a = r.spec as SpecOf<typeof Affiliate>;
        // Discovery leaves this machine's own record out; a stale copy of it is no conflict.
        if (a.nodeId === self) continue;
        for (const address of a.addresses.map(bare)) {
          if (!mine.has(address)) continue;
          others.set(address, [
            ...(others.get(address) ?? []),
            `${a.hostname || a.nodename} (node id ${a.nodeId})`,
          ]);
        }
      }
      for (const [address, nodes] of others) {
        found.set(`address-conflict-${address.replaceAll(":", "-")}`, {
          severity: "error",
          message: `address ${address} of this machine is also used by ${nodes.join(", ")}`,
          details: [`this machine: ${address}`, ...nodes.map((n) => `also announced by ${n}`)],
        });
      }
      const links = new Map<string, Set<string>>();
      for (const r of await ctx.list(AddressStatus.kind())) {
        const s = r.spec as SpecOf<typeof AddressStatus>;
        // Link-local and host addresses are per link by nature; only routable ones must be unique.
        if (!s.present || (s.scope !== undefined && s.scope !== "global")) continue;
        const address = bare(s.address);
        links.set(address, (links.get(address) ?? new Set()).add(s.link));
      }
      for (const [address, on] of links) {
        if (on.size < 2) continue;
        const names = [...on].sort();
        found.set(`address-on-two-links-${address.replaceAll(":", "-")}`, {
          severity: "error",
          message: `address ${address} is on ${names.length} links: ${names.join(", ")}`,
          details: names.map((l) => `link ${l} holds ${address}`),
        });
      }
      await reportDiagnostics(ctx, found);
    },
  };
}
