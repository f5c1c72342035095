import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Host } from "../../host/host.ts";
import { DriftStatus, HostnameSpec, HostnameStatus, hostnameId } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { configRevisionInput, type OperatorOptions, requeue } from "../internal/operator-options.ts";
import { sha256Hex } from "../internal/sha256.ts";

export const hostnameControllerName = "HostnameController";

/**
 * Sets the hostname the spec asks for in the kernel (the UTS namespace) and in /etc/hostname,
 * and reports the hostname observed, with or without a spec. The name the machine had before is
 * kept in the status and set again when the spec goes away (a rollback to a config without a
 * Hostname document gets the machine's own name back).
 */
export function createHostnameController(options: OperatorOptions): Controller {
  const { host } = options;
  return {
    name: hostnameControllerName,
    inputs: [{ namespace: "network", type: HostnameSpec.type, kind: "weak" }, configRevisionInput],
    outputs: [
      { type: HostnameStatus.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const drift = await openDriftLog(ctx, { domain: "hostname", now: options.now });
      const spec = (await ctx.find(HostnameSpec.ptr(hostnameId)))?.spec;
      const previous = (await ctx.find(HostnameStatus.ptr(hostnameId)))?.spec;
      let desired: string | undefined;
      let specHash: string | undefined;
      let error: string | undefined;
      let original = previous?.original;
      if (!spec && original !== undefined) {
        try {
          await setBoth(host, original);
          ctx.log.info({ hostname: original }, "hostname from before Plinth restored");
        } catch (err) {
          ctx.log.warn({ err, hostname: original }, "cannot restore the hostname");
        }
        original = undefined;
      }
      if (spec) {
        try {
          desired = spec.hostname ?? (await stableHostname(host));
          const observed = await observe(host);
          original ??= observed.hostname;
          if (observed.hostname !== desired || observed.etcHostname !== desired) {
            const hash = fingerprint({ desired });
            if (previous?.specHash === hash) {
              await drift.detected("hostname", {
                item: "hostname",
                expected: desired,
                found: `kernel ${observed.hostname}, /etc/hostname ${observed.etcHostname ?? "missing"}`,
              });
            }
            await setBoth(host, desired, observed);
          }
          specHash = fingerprint({ desired });
          await drift.inSync("hostname");
        } catch (err) {
          error = `cannot set hostname${desired ? ` to ${desired}` : ""}: ${messageOf(err)}`;
          await drift.repairFailed("hostname", error);
        }
      }
      const observed = await observe(host);
      const status: SpecOf<typeof HostnameStatus> = compact({
        hostname: observed.hostname,
        etcHostname: observed.etcHostname,
        managed: spec !== undefined,
        desired,
        original,
        specHash,
        error,
      });
      const out = ctx.track(HostnameStatus.kind());
      await out.apply(canonical(HostnameStatus, hostnameId, status));
      await out.cleanup();
      return requeue(options);
    },
  };
}

async function observe(host: Host): Promise<{ hostname: string; etcHostname: string | undefined }> {
  const etc = await host.readFile("/etc/hostname");
  return { hostname: await host.hostname(), etcHostname: etc?.split("\n")[0]?.trim() };
}

/** Sets the kernel's hostname and /etc/hostname to `name`, each only when it differs. */
async function setBoth(
  host: Host,
  name: string,
  observed?: Awaited<ReturnType<typeof observe>>,
): Promise<void> {
  const now = observed ?? (await observe(host));
  if (now.hostname !== name) await host.setHostname(name);
  if (now.etcHostname !== name) {
    await host.writeFileAtomic("/etc/hostname", `${name}\n`, {
      mode: (await host.fileMode("/etc/hostname")) ?? 0o644,
    });
  }
}

/** `auto: stable`: a name derived from /etc/machine-id, the same on every boot. */
async function stableHostname(host: Host): Promise<string> {
  const machineId = (await host.readFile("/etc/machine-id"))?.trim();
  if (!machineId) throw new Error("auto: stable needs /etc/machine-id, which is missing or empty");
  return `plinth-${(await sha256Hex(machineId)).slice(0, 8)}`;
}
