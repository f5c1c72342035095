import { createHash, randomBytes } from "node:crypto";
import { hostname, networkInterfaces } from "node:os";
import type { ValidationMode } from "../../../config/checks/check-context.ts";
import { parseDuration } from "../../../config/duration.ts";
import { formatIp, parseIp, parsePrefix, prefixContains } from "../../../config/net/ip.ts";
import { discoveryKey } from "../../../discovery/client/discovery-cipher.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import { filterEndpointAddresses, localEndpoints } from "../../mesh/mesh-endpoints.ts";
import { parsedConfig } from "../../parsed-config.ts";
import { NodeAddress } from "../../resources/address.ts";
import {
  Affiliate,
  DiscoveryStatus,
  discoveryStatusId,
  NodeIdentity,
  nodeIdentityId,
} from "../../resources/affiliate.ts";
import { HostnameStatus, hostnameId } from "../../resources/hostname.ts";
import { MachineConfigResource, machineConfigId } from "../../resources/machine-config.ts";
import { MeshIdentity, MeshSpec, meshIdentityId, meshSpecId } from "../../resources/mesh.ts";
import {
  createDiscoveryClient,
  type DiscoveryClient,
  type DiscoveryClientOptions,
} from "./discovery-client.ts";
import { localAffiliate, operatingSystem } from "./local-affiliate.ts";

export const discoveryControllerName = "DiscoveryController";

export interface DiscoveryControllerOptions {
  readonly mode: ValidationMode;
  /** Sent in Hello as the client version. */
  readonly version: string;
  /** The agent's --listen host: announced as this machine's address when it is a specific one. */
  readonly listenHost?: string;
  /** Wakes the controller when the client learns something (the runtime's trigger); polls without. */
  readonly trigger?: () => void;
  readonly backoff?: DiscoveryClientOptions["backoff"];
  /**
   * True while the machine leaves its cluster (a reset): when the runtime then stops, this
   * machine's record is deleted from the service at once instead of lingering until its TTL.
   */
  readonly leaving?: () => boolean;
}

const idPattern = /^[^\s/]{1,253}$/;

function resourceId(affiliateId: string): string {
  return idPattern.test(affiliateId) ? affiliateId : createHash("sha256").update(affiliateId).digest("hex");
}

function hostPort(ip: Uint8Array, port: number): string | undefined {
  if (ip.length !== 4 && ip.length !== 16) return undefined;
  const text = formatIp({ family: ip.length === 4 ? 4 : 6, bytes: ip });
  return ip.length === 4 ? `${text}:${port}` : `[${text}]:${port}`;
}

const ipOf = (bytes: Uint8Array) =>
  bytes.length === 4 || bytes.length === 16 ? [formatIp({ family: bytes.length === 4 ? 4 : 6, bytes })] : [];

/** The machine's own addresses when no network controller reports them (local mode). */
function fallbackAddresses(listenHost: string | undefined): string[] {
  if (listenHost && listenHost !== "0.0.0.0" && listenHost !== "::") return [listenHost];
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && !(i.family === "IPv6" && i.address.startsWith("fe80")))
    .map((i) => i!.address);
}

/**
 * Discovery (the `Discovery` and `ClusterConfig` documents): publishes this machine's sealed
 * record to the discovery service and keeps one `Affiliate` per other member from what it
 * watches there, plus `DiscoveryStatus`. The client runs between reconciles; when the service is
 * unreachable the last known members stay, marked stale. Records that do not open with the
 * cluster secret are ignored and counted.
 */
export function createDiscoveryController(options: DiscoveryControllerOptions): Controller {
  let client: DiscoveryClient | undefined;
  let clientKey = "";

  /** With `deleteSelf`, the record goes from the service too (discovery turned off). */
  function stopClient(deleteSelf = false): void {
    const c = client;
    client = undefined;
    clientKey = "";
    void c?.close({ deleteSelf });
  }

  return {
    name: discoveryControllerName,
    inputs: [
      { namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" },
      { namespace: NodeAddress.namespace, type: NodeAddress.type, kind: "weak" },
      { namespace: HostnameStatus.namespace, type: HostnameStatus.type, id: hostnameId, kind: "weak" },
      { namespace: MeshSpec.namespace, type: MeshSpec.type, id: meshSpecId, kind: "weak" },
      { namespace: MeshIdentity.namespace, type: MeshIdentity.type, id: meshIdentityId, kind: "weak" },
    ],
    outputs: [
      { type: NodeIdentity.type, kind: "exclusive" },
      { type: Affiliate.type, kind: "exclusive" },
      { type: DiscoveryStatus.type, kind: "exclusive" },
    ],
    async reconcile(ctx) {
      const identities = ctx.track(NodeIdentity.kind());
      const affiliates = ctx.track(Affiliate.kind());
      const statuses = ctx.track(DiscoveryStatus.kind());
      const identity = (await ctx.find(NodeIdentity.ptr(nodeIdentityId)))?.spec ?? {
        nodeId: randomBytes(32).toString("base64url"),
      };
      await identities.apply(NodeIdentity.make(nodeIdentityId, identity));

      const record = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      const config = record?.spec.complete ? parsedConfig(record.spec.yaml, options.mode) : undefined;
      const discovery = config?.find("Discovery");
      const cluster = config?.find("ClusterConfig");
      const machine = config?.find("MachineConfig");
      if (!config || !discovery?.enabled || !discovery.endpoint || !cluster || !machine) {
        stopClient(true);
        await affiliates.cleanup();
        await statuses.cleanup();
        await identities.cleanup();
        return;
      }

      const ttlMs = parseDuration(discovery.ttl) ?? 30 * 60_000;
      const key = `${discovery.endpoint}|${cluster.id}|${cluster.secret}|${ttlMs}|${identity.nodeId}`;
      if (key !== clientKey) {
        stopClient();
        const trigger = options.trigger;
        const created = createDiscoveryClient({
          endpoint: discovery.endpoint,
          clusterId: cluster.id,
          affiliateId: identity.nodeId,
          key: discoveryKey(cluster.secret),
          ttlMs,
          clientVersion: options.version,
          onChange: () => trigger?.(),
          log: ctx.log,
          ...(options.backoff ? { backoff: options.backoff } : {}),
        });
        client = created;
        clientKey = key;
        ctx.signal.addEventListener(
          "abort",
          () => void created.close({ deleteSelf: options.leaving?.() ?? false }),
          { once: true },
        );
      }

      const meshSpec = (await ctx.find(MeshSpec.ptr(meshSpecId)))?.spec;
      const meshIdentity = (await ctx.find(MeshIdentity.ptr(meshIdentityId)))?.spec;
      const meshPrefix = meshIdentity ? parsePrefix(meshIdentity.prefix) : undefined;
      const observed =
        (await ctx.find(NodeAddress.ptr("current")))?.spec.addresses.map((a) => a.split("/")[0]!) ?? [];
      // The mesh address is an address of the mesh link, not a way to reach this machine.
      const addresses = (observed.length > 0 ? observed : fallbackAddresses(options.listenHost)).filter(
        (a) => !(meshPrefix && parseIp(a) && prefixContains(meshPrefix, parseIp(a)!)),
      );
      const status = client!.status();
      const { affiliate, endpoints } = localAffiliate({
        nodeId: identity.nodeId,
        hostname: (await ctx.find(HostnameStatus.ptr(hostnameId)))?.spec.hostname || hostname(),
        addresses,
        machineType: machine.type,
        operatingSystem: operatingSystem(),
        ...(machine.type === "controlplane" ? { apiPort: machine.api.port } : {}),
        ...(meshSpec?.enabled && meshIdentity
          ? {
              mesh: {
                publicKey: meshIdentity.publicKey,
                address: meshIdentity.address,
                advertisedNetworks: meshSpec.advertiseNetworks,
                endpoints: localEndpoints({
                  addresses: filterEndpointAddresses(addresses, {
                    filters: meshSpec.endpointFilters,
                    meshPrefix: meshIdentity.prefix,
                  }),
                  port: meshSpec.port,
                  ...(status.publicIp ? { publicIp: status.publicIp } : {}),
                  extra: meshSpec.extraEndpoints,
                }),
              },
            }
          : {}),
      });
      client!.setLocal(affiliate, endpoints);

      const others = client!.discovered();
      for (const other of others) {
        const a = other.affiliate;
        await affiliates.apply(
          Affiliate.make(resourceId(other.id), {
            nodeId: a.nodeId,
            hostname: a.hostname,
            nodename: a.nodename,
            machineType: a.machineType,
            operatingSystem: a.operatingSystem,
            addresses: a.addresses.flatMap(ipOf),
            endpoints: other.endpoints.flatMap((e) => hostPort(e.ip, e.port) ?? []),
            ...(a.kubespan
              ? {
                  mesh: {
                    publicKey: a.kubespan.publicKey,
                    address: ipOf(a.kubespan.address)[0] ?? "",
                    additionalPrefixes: a.kubespan.additionalAddresses.flatMap((p) =>
                      ipOf(p.ip).map((ip) => `${ip}/${p.bits}`),
                    ),
                  },
                }
              : {}),
            ...(a.controlPlane ? { apiPort: a.controlPlane.apiServerPort } : {}),
            source: "discovery",
            stale: !status.connected,
          }),
        );
      }
      await statuses.apply(
        DiscoveryStatus.make(discoveryStatusId, {
          endpoint: status.endpoint,
          connected: status.connected,
          published: status.published,
          affiliates: others.length,
          undecryptable: status.undecryptable,
          ...(status.publicIp ? { publicIp: status.publicIp } : {}),
          ...(status.lastError ? { lastError: status.lastError } : {}),
        }),
      );
      await affiliates.cleanup();
      await statuses.cleanup();
      await identities.cleanup();
      return options.trigger ? undefined : { requeueAfterMs: 1000 };
    },
  };
}
