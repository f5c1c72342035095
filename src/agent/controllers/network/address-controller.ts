import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import {
  AddressSpec,
  AddressStatus,
  DriftStatus,
  idFromText,
  LinkStatus,
  NodeAddress,
} from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { ip, rereader } from "../internal/ip-command.ts";
import { type ObservedAddress, readAddresses } from "../internal/netlink.ts";
import {
  configRevisionInput,
  type OperatorOptions,
  requeue,
  retryRefused,
  unrelatedConfigChange,
} from "../internal/operator-options.ts";

export const addressControllerName = "AddressController";

type Spec = SpecOf<typeof AddressSpec>;
type Status = SpecOf<typeof AddressStatus>;

/**
 * Assigns the addresses the specs ask for and reports every address on the machine as an
 * AddressStatus, plus the NodeAddress sets. Addresses Plinth assigned are removed with their spec.
 * An address on a link that does not exist is an error in that address's status only. Woken by
 * LinkStatus changes, so addresses follow links that appear.
 */
export function createAddressController(options: OperatorOptions): Controller {
  const unrelated = unrelatedConfigChange();
  const next = retryRefused(options);
  const { host } = options;
  return {
    name: addressControllerName,
    inputs: [
      { namespace: "network", type: AddressSpec.type, kind: "weak" },
      { namespace: "network", type: LinkStatus.type, kind: "weak" },
      configRevisionInput,
    ],
    outputs: [
      { type: AddressStatus.type, kind: "exclusive" },
      { type: NodeAddress.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const { signal } = ctx;
      const drift = await openDriftLog(ctx, { domain: "address", now: options.now });
      const specs = (await ctx.list(AddressSpec.kind())) as Resource<Spec>[];
      if (
        unrelated(
          drift.revision,
          specs.map((r) => r.spec),
        )
      )
        return requeue(options);
      const read = rereader(host, readAddresses);
      const wanted = new Map(specs.map((s) => [s.metadata.id, s.spec]));
      const previous = new Map(
        ((await ctx.list(AddressStatus.kind())) as Resource<Status>[]).map((r) => [r.metadata.id, r.spec]),
      );
      const created = new Set(
        [...previous].filter(([id, s]) => s.createdByPlinth && wanted.has(id)).map(([id]) => id),
      );
      const errors = new Map<string, string>();

      let seen = await read();
      const isPresent = (a: { link: string; address: string }) =>
        seen.addresses.some((o) => o.link === a.link && o.address === a.address);
      for (const [id, status] of previous) {
        if (wanted.has(id) || !status.createdByPlinth || !isPresent(status)) continue;
        await ip(host, ["address", "delete", status.address, "dev", status.link], signal).then(
          () => ctx.log.info({ link: status.link, address: status.address }, "address removed with its spec"),
          (err) => ctx.log.warn({ err, address: status.address }, "cannot remove address"),
        );
      }
      seen = await read();

      for (const [id, spec] of wanted) {
        if (isPresent(spec)) continue;
        const linkExists = seen.links.has(spec.link);
        if (previous.get(id)?.specHash === fingerprint(spec)) {
          await drift.detected(id, {
            item: `address ${spec.address} on ${spec.link}`,
            expected: "assigned",
            found: linkExists ? "missing" : `missing, and link ${spec.link} is gone`,
          });
        }
        try {
          if (!linkExists) throw new Error(`link ${spec.link} does not exist`);
          await ip(host, ["address", "add", spec.address, "dev", spec.link], signal);
          created.add(id);
        } catch (err) {
          errors.set(id, `cannot assign ${spec.address} to ${spec.link}: ${messageOf(err)}`);
        }
      }
      seen = await read();

      const out = ctx.track(AddressStatus.kind());
      const statuses = new Map<string, Status>();
      for (const a of seen.addresses) {
        const id = idFromText(`${a.link}/${a.address}`);
        statuses.set(id, { ...a, present: true, managed: false, createdByPlinth: false });
      }
      for (const [id, spec] of wanted) {
        const error = errors.get(id);
        await (error ? drift.repairFailed(id, error) : drift.inSync(id));
        const base = statuses.get(id) ?? { ...spec, present: false };
        statuses.set(
          id,
          compact({
            ...base,
            managed: true,
            createdByPlinth: created.has(id),
            specHash: error ? undefined : fingerprint(spec),
            error,
          }),
        );
      }
      for (const [id, status] of statuses) await out.apply(canonical(AddressStatus, id, status));
      await out.cleanup();

      const nodeOut = ctx.track(NodeAddress.kind());
      for (const [id, addresses] of Object.entries(nodeAddresses(seen.addresses, wanted))) {
        await nodeOut.apply(canonical(NodeAddress, id, { addresses }));
      }
      await nodeOut.cleanup();
      return next(errors.size);
    },
  };
}

function nodeAddresses(
  observed: readonly ObservedAddress[],
  wanted: ReadonlyMap<string, Spec>,
): Record<"current" | "managed" | "default", string[]> {
  const global = observed.filter((a) => a.scope === "global");
  const current = global.map((a) => a.address);
  const managed = global
    .filter((a) => [...wanted.values()].some((s) => s.link === a.link && s.address === a.address))
    .map((a) => a.address);
  const pool = global.filter((a) => (managed.length > 0 ? managed.includes(a.address) : true));
  const first = (family: 4 | 6) => pool.find((a) => a.family === family)?.address;
  const defaults = [first(4), first(6)].filter((a): a is string => a !== undefined);
  return { current, managed, default: defaults };
}
