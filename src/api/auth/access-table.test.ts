import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import type { ErrorCode } from "../../errors/plinth-error.ts";
import { TestSpec } from "../../runtime/state/conformance/test-resources.ts";
import type { CoreState } from "../../runtime/state/core-state.ts";
import { wrapCore } from "../../runtime/state/state.ts";
import { fromConnectError } from "../error-mapping.ts";
import { ApplyMode, MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceToWire } from "../resource-wire.ts";
import type { TestApi } from "../testing/test-api.ts";
import { SecretTestSpec, startTestApi } from "../testing/test-api.ts";
import type { TestCert, TestPki } from "../testing/test-pki.ts";
import { createTestPki } from "../testing/test-pki.ts";
import { accessTable, rpcName } from "./access-table.ts";

interface Clients {
  readonly machine: Client<typeof MachineService>;
  readonly resources: Client<typeof ResourceService>;
}

interface Row {
  /** The RPC, plus what is special about the call. */
  readonly name: string;
  readonly rpc: string;
  /** Which of the four user roles may make the call: written here independently of the table. */
  readonly allowed: readonly ("os:admin" | "os:operator" | "os:reader" | "os:etcd:backup")[];
  /** Sets up what the call needs (a resource to update, say), before the snapshot. */
  prepare?(state: CoreState): Promise<string>;
  call(c: Clients, state: CoreState, prepared: string): Promise<void>;
}

const admin = ["os:admin"] as const;
const operator = ["os:admin", "os:operator"] as const;
const reader = ["os:admin", "os:operator", "os:reader"] as const;
const m = (name: string) => `plinth.machine.v1alpha1.MachineService/${name}`;
const r = (name: string) => `plinth.resource.v1alpha1.ResourceService/${name}`;
let serial = 0;
const fresh = () => `r${++serial}`;
const make = (id: string) => TestSpec.make(id, { value: "v", count: 0 });

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) break;
}

const rows: Row[] = [
  {
    name: "ApplyConfiguration",
    rpc: m("ApplyConfiguration"),
    allowed: admin,
    call: async (c) => {
      await c.machine.applyConfiguration({
        data: new TextEncoder().encode("kind: X\n"),
        mode: ApplyMode.AUTO,
      });
    },
  },
  {
    name: "ConfirmConfiguration",
    rpc: m("ConfirmConfiguration"),
    allowed: admin,
    call: async (c) => void (await c.machine.confirmConfiguration({})),
  },
  {
    name: "Version",
    rpc: m("Version"),
    allowed: reader,
    call: async (c) => void (await c.machine.version({})),
  },
  {
    name: "ServiceList",
    rpc: m("ServiceList"),
    allowed: reader,
    call: async (c) => void (await c.machine.serviceList({})),
  },
  {
    name: "ServiceStart",
    rpc: m("ServiceStart"),
    allowed: operator,
    call: async (c) => void (await c.machine.serviceStart({ id: "x" })),
  },
  {
    name: "ServiceStop",
    rpc: m("ServiceStop"),
    allowed: operator,
    call: async (c) => void (await c.machine.serviceStop({ id: "x" })),
  },
  {
    name: "ServiceRestart",
    rpc: m("ServiceRestart"),
    allowed: operator,
    call: async (c) => void (await c.machine.serviceRestart({ id: "x" })),
  },
  {
    name: "Logs",
    rpc: m("Logs"),
    allowed: reader,
    call: (c) => drain(c.machine.logs({ id: "x", tailLines: 1 })),
  },
  {
    name: "Reboot",
    rpc: m("Reboot"),
    allowed: operator,
    call: async (c) => void (await c.machine.reboot({})),
  },
  { name: "Reset", rpc: m("Reset"), allowed: admin, call: async (c) => void (await c.machine.reset({})) },
  {
    name: "ConfigHistory",
    rpc: m("ConfigHistory"),
    allowed: admin,
    call: async (c) => void (await c.machine.configHistory({})),
  },
  {
    name: "ConfigRollback",
    rpc: m("ConfigRollback"),
    allowed: admin,
    call: async (c) => void (await c.machine.configRollback({ version: 1n })),
  },
  {
    name: "IssueClientConfig",
    rpc: m("IssueClientConfig"),
    allowed: admin,
    call: async (c) => void (await c.machine.issueClientConfig({ roles: ["os:reader"] })),
  },
  {
    name: "Bootstrap",
    rpc: m("Bootstrap"),
    allowed: admin,
    call: async (c) => void (await c.machine.bootstrap({})),
  },
  {
    name: "EtcdMemberList",
    rpc: m("EtcdMemberList"),
    allowed: reader,
    call: async (c) => void (await c.machine.etcdMemberList({})),
  },
  {
    name: "EtcdStatus",
    rpc: m("EtcdStatus"),
    allowed: reader,
    call: async (c) => void (await c.machine.etcdStatus({})),
  },
  {
    name: "EtcdSnapshot",
    rpc: m("EtcdSnapshot"),
    allowed: ["os:admin", "os:etcd:backup"],
    call: (c) => drain(c.machine.etcdSnapshot({})),
  },
  {
    name: "EtcdForfeitLeadership",
    rpc: m("EtcdForfeitLeadership"),
    allowed: operator,
    call: async (c) => void (await c.machine.etcdForfeitLeadership({})),
  },
  {
    name: "EtcdLeaveCluster",
    rpc: m("EtcdLeaveCluster"),
    allowed: admin,
    call: async (c) => void (await c.machine.etcdLeaveCluster({})),
  },
  {
    name: "EtcdRemoveMember",
    rpc: m("EtcdRemoveMember"),
    allowed: admin,
    call: async (c) => void (await c.machine.etcdRemoveMember({ memberId: "8e9e05c52164694d" })),
  },
  {
    name: "Shutdown",
    rpc: m("Shutdown"),
    allowed: admin,
    call: async (c) => void (await c.machine.shutdown({})),
  },
  {
    name: "Upgrade",
    rpc: m("Upgrade"),
    allowed: admin,
    call: async (c) => void (await c.machine.upgrade({ bundle: new Uint8Array([1, 2, 3]) })),
  },
  {
    name: "HealthCheck",
    rpc: m("HealthCheck"),
    allowed: reader,
    call: (c) => drain(c.machine.healthCheck({})),
  },
  {
    name: "Get",
    rpc: r("Get"),
    allowed: reader,
    call: async (c) => {
      const res = await c.resources.get({ type: "ts", id: "seed" });
      assert.equal(res.messages[0]?.resource?.metadata?.id, "seed");
    },
  },
  {
    name: "List",
    rpc: r("List"),
    allowed: reader,
    call: async (c) => {
      const res = await c.resources.list({ type: "TestSpec" });
      assert.ok(res.messages[0]?.resources.some((x) => x.metadata?.id === "seed"));
    },
  },
  { name: "Watch", rpc: r("Watch"), allowed: reader, call: (c) => drain(c.resources.watch({ type: "ts" })) },
  {
    name: "Get of a sensitive type",
    rpc: r("Get"),
    allowed: admin,
    call: async (c) => void (await c.resources.get({ type: "sts", id: "secret" })),
  },
  {
    name: "List of a sensitive type",
    rpc: r("List"),
    allowed: admin,
    call: async (c) => void (await c.resources.list({ type: "SecretTestSpec" })),
  },
  {
    name: "Watch of a sensitive type",
    rpc: r("Watch"),
    allowed: admin,
    call: (c) => drain(c.resources.watch({ type: "sts", id: "secret" })),
  },
  {
    name: "Create",
    rpc: r("Create"),
    allowed: admin,
    prepare: async () => fresh(),
    call: async (c, state, id) => {
      await c.resources.create({ resource: resourceToWire(make(id)) });
      assert.equal((await state.get(TestSpec.ptr(id))).metadata.version, 1);
    },
  },
  {
    name: "Update",
    rpc: r("Update"),
    allowed: admin,
    prepare: async (state) => (await state.create(make(fresh()))).metadata.id,
    call: async (c, state, id) => {
      const stored = await state.get(TestSpec.ptr(id));
      await c.resources.update({
        resource: resourceToWire({ ...stored, spec: { value: "changed", count: 1 } }),
      });
      assert.equal((await state.get(TestSpec.ptr(id))).metadata.version, 2);
    },
  },
  {
    name: "Destroy",
    rpc: r("Destroy"),
    allowed: admin,
    prepare: async (state) => {
      const id = fresh();
      await state.create(make(id));
      await wrapCore(state).teardown(TestSpec.ptr(id));
      return id;
    },
    call: async (c, state, id) => {
      await c.resources.destroy({ namespace: "test", type: "TestSpec", id });
      assert.equal(await wrapCore(state).find(TestSpec.ptr(id)), undefined);
    },
  },
];

interface Caller {
  readonly name: string;
  readonly cert: (pki: TestPki) => TestCert | undefined;
  /** The role a refusal must name, or the reason of UNAUTHENTICATED. */
  readonly role?: "os:admin" | "os:operator" | "os:reader" | "os:etcd:backup";
  readonly refused: { code: ErrorCode; message: RegExp };
}

const callers: Caller[] = [
  ...(["os:admin", "os:operator", "os:reader", "os:etcd:backup"] as const).map(
    (role): Caller => ({
      name: role,
      cert: (pki) => pki.clients[role],
      role,
      refused: { code: "permission_denied", message: new RegExp(`role ${role} \\(CN=`) },
    }),
  ),
  {
    name: "node certificate (os:impersonator) calling directly",
    cert: (pki) => pki.clients["os:impersonator"],
    refused: { code: "permission_denied", message: /role os:impersonator/ },
  },
  {
    name: "certificate without a Plinth role",
    cert: (pki) => pki.noRole,
    refused: { code: "permission_denied", message: /CN=nobody \(no Plinth role\)/ },
  },
  {
    name: "no certificate",
    cert: () => undefined,
    refused: { code: "unauthenticated", message: /no client certificate/ },
  },
  {
    name: "certificate from another CA",
    cert: (pki) => pki.wrongCa,
    refused: { code: "unauthenticated", message: /CN=stranger was rejected: it is not signed by the API CA/ },
  },
  {
    name: "expired certificate",
    cert: (pki) => pki.expired,
    refused: { code: "unauthenticated", message: /CN=expired was rejected: it has expired/ },
  },
];

const snapshot = async (state: CoreState) => [
  ...(await state.list(TestSpec.kind())),
  ...(await state.list(SecretTestSpec.kind())),
];

/** Runs the row's call; a refused call must leave the state as it was. */
async function outcome(
  row: Row,
  c: Clients,
  state: CoreState,
): Promise<{ code: ErrorCode | "ok"; message: string }> {
  const prepared = (await row.prepare?.(state)) ?? "";
  const before = await snapshot(state);
  try {
    await row.call(c, state, prepared);
    return { code: "ok", message: "" };
  } catch (err) {
    const e = fromConnectError(err);
    assert.deepEqual(await snapshot(state), before, "a refused call changed the state");
    return { code: e.code, message: e.message };
  }
}

describe("access table", () => {
  it("declares roles for every RPC of every service, and the test rows cover them all", () => {
    const methods = [...MachineService.methods, ...ResourceService.methods].map(rpcName);
    assert.deepEqual([...accessTable.keys()].sort(), [...methods].sort());
    assert.deepEqual([...new Set(rows.map((row) => row.rpc))].sort(), [...methods].sort());
  });
});

describe("every RPC x every caller over mTLS", () => {
  let pki: TestPki;
  let api: TestApi;
  const clients = new Map<string, Clients>();
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki });
    await api.state.create(make("seed"));
    await api.state.create(SecretTestSpec.make("secret", { secret: "s3cr3t" }));
    for (const caller of callers) {
      const { transport } = api.connect(caller.cert(pki));
      clients.set(caller.name, {
        machine: createClient(MachineService, transport),
        resources: createClient(ResourceService, transport),
      });
    }
  });
  after(() => api.close());

  for (const caller of callers) {
    describe(caller.name, () => {
      for (const row of rows) {
        const allowed = caller.role !== undefined && (row.allowed as readonly string[]).includes(caller.role);
        const expected = allowed ? "ok" : caller.refused.code;
        it(`${row.name}: ${expected}`, async () => {
          const result = await outcome(row, clients.get(caller.name)!, api.state);
          assert.equal(result.code, expected, result.message);
          if (expected === "ok") return;
          // Roles allowed the RPC but not the sensitive type are refused by the service, naming the type.
          const byType =
            /sensitive/.test(row.name) && (reader as readonly string[]).includes(caller.role ?? "");
          assert.match(result.message, caller.refused.message);
          assert.match(
            result.message,
            byType
              ? /may not read SecretTestSpec: its resources are sensitive/
              : caller.refused.code === "permission_denied"
                ? new RegExp(`may not call ${row.rpc.replaceAll(".", "\\.")} \\(allowed: `)
                : new RegExp(`^${row.rpc.replaceAll(".", "\\.")} needs a client certificate`),
          );
        });
      }
    });
  }
});

describe("maintenance mode", () => {
  let pki: TestPki;
  let api: TestApi;
  let c: Clients;
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki, maintenance: true });
    await api.state.create(make("seed"));
    const { transport } = api.connect(undefined);
    c = {
      machine: createClient(MachineService, transport),
      resources: createClient(ResourceService, transport),
    };
  });
  after(() => api.close());

  const served = new Set([m("ApplyConfiguration"), m("Version")]);
  for (const row of rows) {
    const expected = served.has(row.rpc) ? "ok" : "permission_denied";
    it(`${row.name} without a client certificate: ${expected}`, async () => {
      const result = await outcome(row, c, api.state);
      assert.equal(result.code, expected, result.message);
      if (expected === "ok") return;
      assert.match(result.message, /the machine is in maintenance mode/);
    });
  }
});
