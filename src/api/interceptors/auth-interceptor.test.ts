import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Identity } from "../auth/identity.ts";
import { identityKey } from "../auth/identity.ts";
import { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { callOutcome } from "../testing/call-outcome.ts";
import { createFakeMachineService } from "../testing/fake-machine-service.ts";
import type { AuthInterceptorOptions } from "./auth-interceptor.ts";
import { createAuthInterceptor } from "./auth-interceptor.ts";
import { createErrorInterceptor } from "./error-interceptor.ts";

const der = new Uint8Array([1]);
const identities: Record<string, Identity> = {
  reader: { kind: "certificate", subject: "ann", roles: ["os:reader"], certificate: der },
  both: { kind: "certificate", subject: "bob", roles: ["os:operator", "os:reader"], certificate: der },
  forwarded: {
    kind: "certificate",
    subject: "cy",
    roles: ["os:reader"],
    certificate: der,
    forwardedBy: "n1",
  },
  anonymous: { kind: "anonymous", reason: "no client certificate was presented" },
};

/** Stands in for the TLS layer: the identity named by a test header. */
const fromHeader: Interceptor = (next) => (req) => {
  const who = req.header.get("test-caller");
  if (who) req.contextValues.set(identityKey, identities[who]!);
  return next(req);
};

function machineAs(who: string, options: AuthInterceptorOptions = {}) {
  const transport = createRouterTransport((r) => r.service(MachineService, createFakeMachineService("n")), {
    router: { interceptors: [createErrorInterceptor(), fromHeader, createAuthInterceptor(options)] },
  });
  const client = createClient(MachineService, transport);
  const headers = { "test-caller": who };
  return {
    reboot: () => client.reboot({}, { headers }),
    version: () => client.version({}, { headers }),
    applyConfiguration: () => client.applyConfiguration({}, { headers }),
  };
}

describe("auth interceptor", () => {
  it("lets a role the table allows through", async () => {
    assert.equal((await machineAs("reader").version()).messages[0]?.version?.tag, "fake-n");
    assert.equal((await machineAs("both").reboot()).messages[0]?.actorId, "n-reboot");
  });

  it("refuses other roles, naming the role used and the roles allowed", async () => {
    assert.equal(
      await callOutcome(machineAs("reader").reboot()),
      "permission_denied: role os:reader (CN=ann) may not call plinth.machine.v1alpha1.MachineService/Reboot (allowed: os:admin, os:operator)",
    );
    assert.match(
      await callOutcome(machineAs("both").applyConfiguration()),
      /^permission_denied: roles os:operator, os:reader \(CN=bob\) may not call .*ApplyConfiguration \(allowed: os:admin\)$/,
    );
    assert.match(await callOutcome(machineAs("forwarded").reboot()), /\(CN=cy, forwarded by CN=n1\)/);
  });

  it("answers a caller without identity UNAUTHENTICATED with the reason", async () => {
    assert.equal(
      await callOutcome(machineAs("anonymous").version()),
      "unauthenticated: plinth.machine.v1alpha1.MachineService/Version needs a client certificate signed by the API CA: no client certificate was presented",
    );
  });

  it("in maintenance mode serves ApplyConfiguration and Version to anyone, nothing else to anybody", async () => {
    const m = machineAs("anonymous", { maintenance: true });
    assert.equal((await m.version()).messages.length, 1);
    assert.equal((await m.applyConfiguration()).messages.length, 1);
    assert.match(
      await callOutcome(machineAs("both", { maintenance: true }).reboot()),
      /^permission_denied: the machine is in maintenance mode: only ApplyConfiguration and Version are served/,
    );
  });
});
