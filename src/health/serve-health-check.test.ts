import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { startTestApi, type TestApi } from "../api/testing/test-api.ts";
import { createTestPki, type TestCert, type TestPki } from "../api/testing/test-pki.ts";
import type { HealthProgress } from "./health-progress.ts";
import { serveHealthCheck } from "./serve-health-check.ts";

describe("serveHealthCheck", () => {
  let pki: TestPki;
  let api: TestApi;
  before(async () => {
    pki = await createTestPki();
    api = await startTestApi({ pki, node: "n1" });
  });
  after(() => api.close());

  async function run(caller: TestCert, nodes: string[] = [`127.0.0.1:${api.server.port}`]) {
    const out: HealthProgress[] = [];
    const request = create(HealthCheckRequestSchema, {
      controlPlaneNodes: nodes,
      waitTimeout: { seconds: 0n, nanos: 300_000_000 },
    });
    for await (const p of serveHealthCheck(request, {
      caller: new Uint8Array(new X509Certificate(caller.cert).raw),
      tls: { cert: pki.node.cert, key: pki.node.key, ca: pki.ca },
      defaultPort: 50000,
      clusterNodes: async () => ({ controlPlanes: [], workers: [] }),
      signal: AbortSignal.timeout(10_000),
    }))
      out.push(p);
    return out;
  }

  it("checks the other nodes as the caller: the node passes the caller's certificate on", async () => {
    const asReader = await run(pki.clients["os:reader"]);
    assert.equal(asReader[0]?.detail, "checking 1 control planes and 0 workers");
    assert.deepEqual(
      { check: asReader[1]?.check, ok: asReader[1]?.ok },
      { check: "every node's API answers with the client certificate", ok: true },
    );
    // A caller without a reading role is refused by the checked node, naming the caller's role
    // (not the checking node's certificate).
    const asBackup = await run(pki.clients["os:etcd:backup"]);
    const api = asBackup.find((p) => p.check.startsWith("every node's API"));
    assert.equal(api?.ok, false);
    assert.match(
      api?.detail ?? "",
      /role os:etcd:backup .*may not call plinth\.machine\.v1alpha1\.MachineService\/Version/,
    );
    assert.deepEqual(asBackup.at(-1), {
      check: "",
      ok: false,
      final: true,
      detail: "",
      done: true,
      healthy: false,
    });
  });

  it("refuses a check without control planes, naming the field", async () => {
    await assert.rejects(
      run(pki.clients["os:reader"], []),
      /HealthCheck: no control-plane nodes: name them in 'control_plane_nodes'/,
    );
  });
});
