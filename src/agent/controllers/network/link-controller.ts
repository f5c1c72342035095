import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import { DriftStatus, LinkSpec, LinkStatus } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { ip, rereader } from "../internal/ip-command.ts";
import { type ObservedLink, readLinks } from "../internal/netlink.ts";
import {
  configRevisionInput,
  type OperatorOptions,
  requeue,
  unrelatedConfigChange,
} from "../internal/operator-options.ts";

export const linkControllerName = "LinkController";

type Spec = SpecOf<typeof LinkSpec>;
type Status = SpecOf<typeof LinkStatus>;

/**
 * Makes links match their specs through iproute2: creates dummy, bridge, VLAN, veth (both ends)
 * and bond links, sets MTU, bridge and bond ports and up/down; a physical link must exist already.
 * Reports every link on the machine as a LinkStatus. Links Plinth created are deleted with their
 * spec, ports it put into a bridge or bond are released when they leave the spec. A link that
 * cannot be set up is an error in its own status.
 */
export function createLinkController(options: OperatorOptions): Controller {
  const unrelated = unrelatedConfigChange();
  const { host } = options;
  return {
    name: linkControllerName,
    inputs: [{ namespace: "network", type: LinkSpec.type, kind: "weak" }, configRevisionInput],
    outputs: [
      { type: LinkStatus.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const { signal } = ctx;
      const drift = await openDriftLog(ctx, { domain: "link", now: options.now });
      const specs = ((await ctx.list(LinkSpec.kind())) as Resource<Spec>[]).map((r) => r.spec);
      if (unrelated(drift.revision, specs)) return requeue(options);
      const read = rereader(host, readLinks);
      const wanted = new Map(specs.map((s) => [s.name, s]));
      const previous = new Map(
        ((await ctx.list(LinkStatus.kind())) as Resource<Status>[]).map((r) => [r.metadata.id, r.spec]),
      );
      const errors = new Map<string, string[]>();
      const fail = (name: string, message: string) =>
        errors.set(name, [...(errors.get(name) ?? []), message]);
      const created = new Set(
        [...previous].filter(([n, s]) => s.createdByPlinth && wanted.has(n)).map(([n]) => n),
      );

      // Undo what specs no longer ask for.
      let links = await read();
      for (const [name, status] of previous) {
        const spec = wanted.get(name);
        try {
          if (!spec && status.createdByPlinth && links.has(name)) {
            await ip(host, ["link", "delete", name], signal);
            ctx.log.info({ link: name }, "link deleted with its spec");
            continue;
          }
          for (const port of status.ports ?? []) {
            if ((spec && portsOf(spec).includes(port)) || links.get(port)?.master !== name) continue;
            await ip(host, ["link", "set", port, "nomaster"], signal);
          }
        } catch (err) {
          ctx.log.warn({ err, link: name }, "cannot undo link settings");
        }
      }
      links = await read();

      // Note drift: what differs now on links that matched the same spec before.
      for (const spec of specs) {
        const before = previous.get(spec.name);
        if (before?.specHash !== fingerprint(spec)) continue;
        const found = differences(spec, links);
        if (found.length > 0) {
          await drift.detected(spec.name, {
            item: `link ${spec.name}`,
            expected: describe(spec),
            found: found.join(", "),
          });
        }
      }

      // Create links first (VLANs last: their parent may be a bridge), then set them up.
      const order = [...specs].sort((a, b) => Number(a.type === "vlan") - Number(b.type === "vlan"));
      for (const spec of order) {
        const { name } = spec;
        let link = links.get(name);
        try {
          if (link && spec.type !== "physical" && link.kind !== spec.type) {
            if (!created.has(name)) {
              throw new Error(
                `link ${name} exists as a ${link.kind} link, not ${spec.type}: remove it or choose another name`,
              );
            }
            await ip(host, ["link", "delete", name], signal);
            link = undefined;
          }
          if (link) continue;
          if (spec.type === "physical") throw new Error(`no such link ${name}: a physical link must exist`);
          if (spec.type === "vlan") {
            const parent = spec.vlan!.parent;
            if (!links.has(parent) && !created.has(parent))
              throw new Error(`VLAN parent ${parent} does not exist`);
            await ip(
              host,
              ["link", "add", "link", parent, "name", name, "type", "vlan", "id", String(spec.vlan!.id)],
              signal,
            );
          } else if (spec.type === "veth") {
            const peer = spec.veth!.peer;
            if (links.has(peer)) throw new Error(`veth peer ${peer} exists already: choose another name`);
            await ip(host, ["link", "add", name, "type", "veth", "peer", "name", peer], signal);
            if (spec.up) await ip(host, ["link", "set", peer, "up"], signal);
          } else if (spec.type === "bond") {
            const { mode, miimon } = spec.bond!;
            await ip(
              host,
              ["link", "add", name, "type", "bond", "mode", mode, "miimon", String(miimon)],
              signal,
            ).catch((err: unknown) => {
              throw /Unknown device type/i.test(messageOf(err))
                ? new Error("this kernel has no bond link type (is the bonding module loaded?)")
                : err;
            });
          } else {
            await ip(host, ["link", "add", name, "type", spec.type], signal);
          }
          created.add(name);
        } catch (err) {
          fail(name, messageOf(err));
        }
      }
      links = await read();

      const ports = new Map<string, string[]>();
      for (const spec of specs) {
        const { name } = spec;
        const link = links.get(name);
        if (!link || errors.has(name)) continue;
        const step = async (what: string, args: string[]) => {
          try {
            await ip(host, args, signal);
          } catch (err) {
            fail(name, `cannot ${what}: ${messageOf(err)}`);
          }
        };
        if (spec.mtu !== undefined && link.mtu !== spec.mtu) {
          await step(`set MTU ${spec.mtu}`, ["link", "set", name, "mtu", String(spec.mtu)]);
        }
        for (const port of portsOf(spec)) {
          const p = links.get(port);
          if (!p) {
            fail(name, `${spec.type} port ${port} does not exist`);
            continue;
          }
          if (p.master !== name) {
            // A bond takes only ports that are down; they come up again as its members.
            if (spec.type === "bond" && p.up)
              await step(`set port ${port} down`, ["link", "set", port, "down"]);
            await step(`add port ${port}`, ["link", "set", port, "master", name]);
            if (spec.type === "bond" && p.up) await step(`set port ${port} up`, ["link", "set", port, "up"]);
          }
          ports.set(name, [...(ports.get(name) ?? []), port]);
        }
        if (link.up !== spec.up)
          await step(`set ${spec.up ? "up" : "down"}`, ["link", "set", name, spec.up ? "up" : "down"]);
      }

      links = await read();
      const out = ctx.track(LinkStatus.kind());
      for (const name of new Set([...links.keys(), ...wanted.keys()])) {
        const link = links.get(name);
        const spec = wanted.get(name);
        const error = errors.get(name)?.join("; ");
        if (spec) await (error ? drift.repairFailed(name, error) : drift.inSync(name));
        const status: Status = compact({
          present: link !== undefined,
          ...(link ? observed(link) : {}),
          managed: spec !== undefined,
          createdByPlinth: created.has(name),
          ports: ports.get(name)?.filter((p) => links.get(p)?.master === name),
          specHash: spec && !error ? fingerprint(spec) : undefined,
          error,
        });
        await out.apply(canonical(LinkStatus, name, status));
      }
      await out.cleanup();
      return requeue(options);
    },
  };
}

function observed(link: ObservedLink): Partial<Status> {
  return {
    index: link.index,
    kind: link.kind,
    up: link.up,
    operState: link.operState,
    mtu: link.mtu,
    ...(link.hardwareAddr ? { hardwareAddr: link.hardwareAddr } : {}),
    ...(link.master ? { master: link.master } : {}),
  };
}

/** How the link differs from its spec. */
function differences(spec: Spec, links: ReadonlyMap<string, ObservedLink>): string[] {
  const link = links.get(spec.name);
  if (!link) return ["missing"];
  const found: string[] = [];
  if (spec.type !== "physical" && link.kind !== spec.type) found.push(`a ${link.kind} link`);
  if (spec.mtu !== undefined && link.mtu !== spec.mtu) found.push(`mtu ${link.mtu}`);
  for (const port of portsOf(spec)) {
    const master = links.get(port)?.master;
    if (master !== spec.name)
      found.push(`port ${port} ${master ? `in ${master}` : `not in the ${spec.type}`}`);
  }
  if (link.up !== spec.up) found.push(link.up ? "up" : "down");
  return found;
}

function describe(spec: Spec): string {
  return [
    spec.type,
    spec.up ? "up" : "down",
    ...(spec.mtu !== undefined ? [`mtu ${spec.mtu}`] : []),
    ...(spec.veth ? [`peer ${spec.veth.peer}`] : []),
    ...(spec.bond ? [`mode ${spec.bond.mode}`] : []),
    ...(portsOf(spec).length ? [`ports ${portsOf(spec).join(" ")}`] : []),
  ].join(", ");
}

/** Links enslaved to a bridge or bond. */
function portsOf(spec: Spec): readonly string[] {
  return spec.bridge?.ports ?? spec.bond?.ports ?? [];
}
