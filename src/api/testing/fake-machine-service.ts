import type { ServiceImpl } from "@connectrpc/connect";
import type { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ApplyMode } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";

/**
 * A MachineService that answers every RPC with a fixed reply naming the node, for tests of the
 * layers around it (auth, fan-out, transports). The agent provides the real one.
 */
export function createFakeMachineService(node: string): ServiceImpl<typeof MachineService> {
  const said = (what: string) => ({ messages: [{ response: `${node}: ${what}` }] });
  return {
    applyConfiguration: (req) => ({
      messages: [
        { mode: req.mode || ApplyMode.AUTO, modeDetails: `${node}: applied ${req.data.length} bytes` },
      ],
    }),
    confirmConfiguration: () => ({ messages: [{ version: 1n, response: `${node}: confirmed` }] }),
    version: () => ({ messages: [{ version: { tag: `fake-${node}`, os: "linux" } }] }),
    serviceList: () => ({ messages: [{ services: [{ id: "fake", state: "Running" }] }] }),
    serviceStart: (req) => said(`started ${req.id}`),
    serviceStop: (req) => said(`stopped ${req.id}`),
    serviceRestart: (req) => said(`restarted ${req.id}`),
    async *logs(req, ctx) {
      const lines = Math.max(1, req.tailLines);
      for (let i = 0; i < lines; i++) yield { data: new TextEncoder().encode(`${node} line ${i}\n`) };
      if (!req.follow) return;
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    },
    reboot: () => ({ messages: [{ actorId: `${node}-reboot` }] }),
    reset: () => ({ messages: [{ actorId: `${node}-reset` }] }),
    configHistory: () => ({
      messages: [{ entries: [{ version: 1n, data: new TextEncoder().encode("kind: Fake\n") }] }],
    }),
    configRollback: (req) => ({
      messages: [{ version: req.version + 1n, modeDetails: `${node}: rolled back` }],
    }),
    issueClientConfig: (req) => ({
      messages: [{ clientConfig: new TextEncoder().encode(`roles: ${req.roles.join(",")}\n`) }],
    }),
    bootstrap: () => said("bootstrapped"),
    etcdMemberList: () => ({
      messages: [{ members: [{ id: "1", name: node, isLeader: true, healthy: true }] }],
    }),
    etcdStatus: () => ({ messages: [{ memberStatus: { memberId: "1", leader: "1" } }] }),
    async *etcdSnapshot() {
      yield { data: new TextEncoder().encode(`${node} snapshot\n`) };
    },
    etcdForfeitLeadership: () => ({ messages: [{ member: "" }] }),
    etcdLeaveCluster: () => ({ messages: [{}] }),
    etcdRemoveMember: (req) => said(`removed ${req.memberId}`),
    shutdown: () => ({ messages: [{ actorId: `${node}-shutdown` }] }),
    upgrade: (req) => ({ messages: [{ upgradeId: `${node}-upgrade`, staged: req.stage }] }),
    async *healthCheck() {
      yield { check: `${node} check`, ok: true, final: true, detail: "fine" };
      yield { done: true, healthy: true };
    },
  };
}
