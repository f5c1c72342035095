import { findBinary } from "../../../doctor/doctor.ts";
import { PlinthError } from "../../../errors/plinth-error.ts";
import {
  applyMeshRouting,
  configureMeshLink,
  kernelHasWireGuard,
  MESH_FWMARK,
  MESH_LINK_NAME,
  MESH_ROUTE_TABLE,
  readMeshPeers,
  removeMesh,
  wireguardGoCommand,
} from "../../../mesh/index.ts";
import type { Controller, ControllerContext } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import type { Host } from "../../host/host.ts";
import { createEndpointProber, type EndpointProber } from "../../mesh/endpoint-prober.ts";
import { meshRoutingPlan } from "../../mesh/mesh-routing-plan.ts";
import { announceMove, applyPeerRound, type PeerRound, peerStatus } from "../../mesh/peer-sync.ts";
import { NodeAddress } from "../../resources/address.ts";
import {
  MeshIdentity,
  MeshPeerSpec,
  MeshPeerStatus,
  MeshPrivateKey,
  MeshSpec,
  MeshStatus,
  meshIdentityId,
  meshPrivateKeyId,
  meshSpecId,
  meshStatusId,
} from "../../resources/mesh.ts";
import { ServiceSpec, ServiceStatusResource } from "../../resources/service.ts";

export const meshOperatorControllerName = "MeshOperatorController";
/** The supervised wireguard-go, where the kernel has no WireGuard. */
export const meshServiceId = "mesh-wireguard";
/** How long after wireguard-go started its link is looked for every 20 ms (then every 250 ms). */
const linkWaitMs = 2000;
/** How often `wg show dump` is read while a peer's candidate endpoint is being tried. */
const probeObserveMs = 100;

export interface MeshOperatorOptions {
  readonly host: Host;
  /** How often `wg show dump` is read into MeshPeerStatus; default 1 s. */
  readonly observeMs?: number;
  /** How often link and routing are re-applied even when nothing changed (drift); default 10 s. */
  readonly repairMs?: number;
  readonly now?: () => number;
  readonly prober?: Parameters<typeof createEndpointProber>[0];
}

type PeerSpec = SpecOf<typeof MeshPeerSpec>;

/**
 * Runs this node's mesh: wireguard-go as a supervised service when the kernel has no WireGuard,
 * the link, the peers, the routing; reads WireGuard's view every second into MeshPeerStatus and
 * MeshStatus, picks each peer's endpoint with an endpoint prober, and bypasses down peers when
 * asked to. A disabled or removed mesh is taken down completely (link, rules, routes, nftables
 * table, the service).
 */
export function createMeshOperatorController(options: MeshOperatorOptions): Controller {
  const { host } = options;
  const now = options.now ?? Date.now;
  const observeMs = options.observeMs ?? 1000;
  const repairMs = options.repairMs ?? 10_000;
  const probers = new Map<string, EndpointProber>();
  /** What was last applied, to skip unchanged work between repairs. */
  let linkKey = "";
  let routingKey = "";
  let lastRepair = 0;
  /** Something may be left on the host: taken down when the mesh is off. */
  let mayHaveMesh = true;
  /** This process ran the mesh (so removing it must succeed). */
  let ranMesh = false;
  let lastAddresses = "";
  let wireguardGo: string | undefined;
  let servicePid: number | undefined;
  /** This process declared the wireguard-go service (a link found before that is stale). */
  let serviceDeclared = false;
  /** The kernel has WireGuard: no wireguard-go, no stale link of one to look for. */
  let kernelWireGuardSeen = false;
  /** What was last logged, to log each step of bringing the mesh up once. */
  let lastWaiting = "";
  let loggedPid: number | undefined;
  /** When the running wireguard-go was first seen: its link appears within moments of that. */
  let serviceSeenAt = 0;
  let peersKey = "";
  const peerStates = new Map<string, string>();

  async function takeDown(ctx: ControllerContext): Promise<void> {
    probers.clear();
    linkKey = "";
    routingKey = "";
    if (!mayHaveMesh) return;
    const startedAt = now();
    try {
      await removeMesh(host, { linkName: MESH_LINK_NAME, table: MESH_ROUTE_TABLE, fwmark: MESH_FWMARK });
      if (ranMesh) ctx.log.info("mesh removed: link, rules, routes and nftables table");
      else ctx.log.debug({ tookMs: now() - startedAt }, "looked for a mesh of an earlier run to remove");
    } catch (err) {
      // The clean-up at start, for a mesh of an earlier run: a machine that never ran one may
      // lack its tools (nft, wg), which is no error.
      if (ranMesh) throw err;
      ctx.log.debug({ err: (err as Error).message }, "no mesh of an earlier run removed");
    }
    mayHaveMesh = false;
    ranMesh = false;
  }

  return {
    name: meshOperatorControllerName,
    inputs: [
      { namespace: MeshSpec.namespace, type: MeshSpec.type, id: meshSpecId, kind: "weak" },
      { namespace: MeshIdentity.namespace, type: MeshIdentity.type, id: meshIdentityId, kind: "weak" },
      { namespace: MeshPrivateKey.namespace, type: MeshPrivateKey.type, id: meshPrivateKeyId, kind: "weak" },
      { namespace: MeshPeerSpec.namespace, type: MeshPeerSpec.type, kind: "weak" },
      { namespace: NodeAddress.namespace, type: NodeAddress.type, id: "current", kind: "weak" },
      { namespace: "runtime", type: ServiceStatusResource.type, id: meshServiceId, kind: "weak" },
    ],
    outputs: [
      { type: ServiceSpec.type, kind: "shared" },
      { type: MeshPeerStatus.type, kind: "exclusive" },
      { type: MeshStatus.type, kind: "exclusive" },
    ],
    async reconcile(ctx) {
      const services = ctx.track(ServiceSpec.kind());
      const peerStatuses = ctx.track(MeshPeerStatus.kind());
      const meshStatuses = ctx.track(MeshStatus.kind());
      const spec = (await ctx.find(MeshSpec.ptr(meshSpecId)))?.spec;
      const identity = (await ctx.find(MeshIdentity.ptr(meshIdentityId)))?.spec;
      const key = (await ctx.find(MeshPrivateKey.ptr(meshPrivateKeyId)))?.spec;

      // An enabled spec without the identity yet is a start (both come from the same documents):
      // wireguard-go starts meanwhile, and whatever an earlier run left is taken over.
      if (!spec?.enabled) {
        // The service first: with wireguard-go gone, its link goes too, and nothing recreates it.
        await services.cleanup();
        serviceDeclared = false;
        await peerStatuses.cleanup();
        await takeDown(ctx);
        if (spec) {
          await meshStatuses.apply(
            MeshStatus.make(meshStatusId, { enabled: false, link: false, address: "", peers: 0, peersUp: 0 }),
          );
        }
        await meshStatuses.cleanup();
        return;
      }
      mayHaveMesh = true;
      ranMesh = true;
      const status = { enabled: true, link: false, address: identity?.address ?? "", peers: 0, peersUp: 0 };
      const waiting = async (error: string, afterMs: number) => {
        if (error !== lastWaiting) ctx.log.debug({ retryInMs: afterMs }, `mesh waiting: ${error}`);
        lastWaiting = error;
        await meshStatuses.apply(MeshStatus.make(meshStatusId, { ...status, error }));
        await meshStatuses.cleanup();
        return { requeueAfterMs: afterMs };
      };

      // Whether a link of an earlier run is there, asked beside the kernel probe (both processes).
      const [kernelWireGuard, linkFound] = await Promise.all([
        kernelHasWireGuard(host),
        serviceDeclared || kernelWireGuardSeen
          ? false
          : host.run("ip", ["link", "show", "dev", MESH_LINK_NAME]).then((r) => r.code === 0),
      ]);
      kernelWireGuardSeen = kernelWireGuard;
      if (!kernelWireGuard) {
        wireguardGo ??= await findBinary("wireguard-go");
        if (!wireguardGo) {
          await services.cleanup();
          return waiting(
            "this kernel has no WireGuard and wireguard-go is not installed: run 'plinth doctor --install'",
            5000,
          );
        }
        if (!serviceDeclared) {
          // A wireguard-go left by an earlier agent process (killed) holds the link, and ours
          // could not create it: deleting the link ends that process.
          if (linkFound && (await host.run("ip", ["link", "del", "dev", MESH_LINK_NAME])).code === 0)
            ctx.log.info("removed the mesh link of an earlier wireguard-go");
          serviceDeclared = true;
        }
        const cmd = wireguardGoCommand(MESH_LINK_NAME);
        await services.apply(
          ServiceSpec.make(meshServiceId, {
            command: wireguardGo,
            args: cmd.args,
            env: cmd.env,
            restart: "always",
            dependsOn: [],
          }),
        );
        await services.cleanup();
        const service = (await ctx.find(ServiceStatusResource.ptr(meshServiceId)))?.spec;
        // A new wireguard-go process makes a blank link: configure everything again.
        servicePid = service?.pid;
        if (service?.state === "running" && servicePid !== loggedPid) {
          loggedPid = servicePid;
          serviceSeenAt = now();
          ctx.log.debug({ pid: servicePid }, `${meshServiceId} (wireguard-go) running`);
        }
        if (service?.state !== "running") {
          linkKey = "";
          routingKey = "";
          return waiting(
            `waiting for ${meshServiceId} (wireguard-go): ${service?.state ?? "not started"}`,
            250,
          );
        }
      } else {
        await services.cleanup();
      }
      // wireguard-go was started above: its start overlaps the identity's.
      if (!identity || !key) return waiting("waiting for this node's mesh identity", 1000);

      const t = now();
      const repair = t - lastRepair >= repairMs;
      const linkConfig = {
        name: MESH_LINK_NAME,
        privateKey: key.privateKey,
        presharedKey: spec.presharedKey,
        listenPort: spec.port,
        mtu: spec.mtu,
        address: identity.address,
        prefix: identity.prefix,
        fwmark: MESH_FWMARK,
      };
      try {
        const lk = JSON.stringify([linkConfig, servicePid]);
        if (repair || lk !== linkKey) {
          await configureMeshLink(host, linkConfig, { signal: ctx.signal });
          if (lk !== linkKey)
            ctx.log.info({ address: identity.address }, `mesh link ${MESH_LINK_NAME} configured`);
          linkKey = lk;
          lastWaiting = "";
        }
      } catch (err) {
        linkKey = "";
        // A wireguard-go just started creates its link in a moment: look again soon rather than
        // in 250 ms, for as long as it is young.
        const linkComing =
          servicePid !== undefined &&
          err instanceof PlinthError &&
          err.code === "unavailable" &&
          now() - serviceSeenAt < linkWaitMs;
        return waiting(
          `cannot configure ${MESH_LINK_NAME}: ${(err as Error).message}`,
          linkComing ? 20 : 250,
        );
      }

      try {
        const peers = (await ctx.list(MeshPeerSpec.kind())) as Resource<PeerSpec>[];
        for (const id of probers.keys()) if (!peers.some((p) => p.metadata.id === id)) probers.delete(id);
        const observed = new Map((await readMeshPeers(host, MESH_LINK_NAME)).map((p) => [p.publicKey, p]));
        const round = peers.map((peer): PeerRound & { id: string } => {
          let prober = probers.get(peer.metadata.id);
          if (!prober) {
            prober = createEndpointProber(options.prober);
            probers.set(peer.metadata.id, prober);
          }
          const seen = observed.get(peer.spec.publicKey);
          return {
            id: peer.metadata.id,
            spec: peer.spec,
            decision: prober.step(peer.spec.endpoints, seen, t),
            observed: seen,
          };
        });
        await applyPeerRound(host, round, spec.presharedKey);
        const pk = JSON.stringify(round.map((p) => [p.id, p.decision.endpoint]));
        if (pk !== peersKey) {
          peersKey = pk;
          ctx.log.debug(
            { peers: round.map((p) => `${p.spec.hostname} ${p.decision.endpoint ?? "-"}`) },
            "mesh peers set",
          );
        }
        for (const id of peerStates.keys()) if (!round.some((p) => p.id === id)) peerStates.delete(id);
        for (const p of round) {
          const was = peerStates.get(p.id);
          peerStates.set(p.id, p.decision.state);
          if (p.decision.state === was || (was === undefined && p.decision.state === "unknown")) continue;
          if (p.decision.state === "up") {
            ctx.log.info(
              { peer: p.spec.hostname, endpoint: p.decision.endpoint },
              "mesh peer up (handshake done)",
            );
          } else if (p.decision.state === "down") {
            ctx.log.warn({ peer: p.spec.hostname, probes: p.decision.probes }, "mesh peer down");
          }
        }

        const addresses = JSON.stringify((await ctx.find(NodeAddress.ptr("current")))?.spec.addresses ?? []);
        if (lastAddresses !== "" && addresses !== lastAddresses) await announceMove(host, round);
        lastAddresses = addresses;

        const down = round.filter((p) => p.decision.state !== "up");
        const routing = meshRoutingPlan(
          { prefix: identity.prefix, mtu: spec.mtu, allowDownPeerBypass: spec.allowDownPeerBypass },
          round.map((p) => ({ allowedIps: p.spec.allowedIps, state: p.decision.state })),
        );
        const rk = JSON.stringify([routing, servicePid]);
        if (repair || rk !== routingKey) {
          routingKey = "";
          await applyMeshRouting(host, routing);
          routingKey = rk;
        }
        if (repair) lastRepair = t;

        for (const p of round) await peerStatuses.apply(MeshPeerStatus.make(p.id, peerStatus(p)));
        await peerStatuses.cleanup();
        await meshStatuses.apply(
          MeshStatus.make(meshStatusId, {
            ...status,
            link: true,
            peers: round.length,
            peersUp: round.length - down.length,
          }),
        );
        await meshStatuses.cleanup();
        const probing = [...probers.values()].some((p) => p.probing(t));
        // While a candidate is tried, its handshake is looked for often: the peer counts as up sooner.
        return { requeueAfterMs: probing ? Math.min(probeObserveMs, observeMs) : observeMs };
      } catch (err) {
        linkKey = "";
        routingKey = "";
        return waiting(`mesh peers and routing: ${(err as Error).message}`, 1000);
      }
    },
  };
}
