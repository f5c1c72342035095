import { upstreamKey } from "../../../balancer/upstream-address.ts";
import type { ValidationMode } from "../../../config/checks/check-context.ts";
import type { ConfigBundle } from "../../../config/config-bundle.ts";
import { parseDuration } from "../../../config/duration.ts";
import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import { parsedConfig } from "../../parsed-config.ts";
import {
  Affiliate,
  APIBalancerSpec,
  apiBalancerId,
  EtcdMember,
  MachineConfigResource,
  machineConfigId,
} from "../../resources/index.ts";

type Spec = SpecOf<typeof APIBalancerSpec>;
type Member = SpecOf<typeof EtcdMember>;
type Peer = SpecOf<typeof Affiliate>;

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The balancer's spec from the config and the control planes known from etcd membership and from
 * discovery: the control-plane endpoint first, then each etcd member's address, then the first
 * address of each control-plane affiliate, all on the endpoint's port, each once.
 * Undefined without a ClusterConfig, or when the `APIBalancer` document disables it (without the
 * document the balancer runs with its defaults, 127.0.0.1:7445 and checks every 1 s / 500 ms).
 */
export function apiBalancerSpecFromConfig(
  bundle: ConfigBundle,
  members: readonly Member[],
  affiliates: readonly Peer[] = [],
): Spec | undefined {
  const cluster = bundle.find("ClusterConfig");
  const doc = bundle.find("APIBalancer");
  if (!cluster || doc?.enabled === false) return undefined;
  const endpoint = new URL(cluster.controlPlane.endpoint);
  const port = Number(endpoint.port) || (endpoint.protocol === "http:" ? 80 : 443);
  const hosts = [
    hostOf(cluster.controlPlane.endpoint),
    ...members.map((m) => hostOf(m.peerUrls[0] ?? m.clientUrls[0] ?? "")),
    ...affiliates.filter((a) => a.machineType === "controlplane").map((a) => a.addresses[0]),
  ].filter((h): h is string => h !== undefined);
  return {
    host: "127.0.0.1",
    port: doc?.port ?? 7445,
    dataPath: doc?.dataPath ?? "auto",
    upstreams: [...new Set(hosts.map((h) => upstreamKey(h, port)))],
    healthCheck: {
      intervalMs: parseDuration(doc?.healthCheck.interval ?? "1s") ?? 1000,
      timeoutMs: parseDuration(doc?.healthCheck.timeout ?? "500ms") ?? 500,
    },
  };
}

/** Config, etcd membership and discovery → APIBalancerSpec; re-derived as members join and leave. */
export function createApiBalancerConfigController(options: { readonly mode: ValidationMode }): Controller {
  return {
    name: "APIBalancerConfigController",
    inputs: [
      { namespace: "config", type: MachineConfigResource.type, id: machineConfigId, kind: "weak" },
      { namespace: "etcd", type: EtcdMember.type, kind: "weak" },
      { namespace: "cluster", type: Affiliate.type, kind: "weak" },
    ],
    outputs: [{ type: APIBalancerSpec.type, kind: "exclusive" }],
    async reconcile(ctx) {
      const out = ctx.track(APIBalancerSpec.kind());
      const config = await ctx.find(MachineConfigResource.ptr(machineConfigId));
      if (config?.spec.complete === true) {
        const members = (await ctx.list(EtcdMember.kind())).map((m) => m.spec as Member);
        const affiliates = (await ctx.list(Affiliate.kind())).map((a) => a.spec as Peer);
        const spec = apiBalancerSpecFromConfig(
          parsedConfig(config.spec.yaml, options.mode),
          members,
          affiliates,
        );
        if (spec) await out.apply(APIBalancerSpec.make(apiBalancerId, spec));
      }
      await out.cleanup();
    },
  };
}
