import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { eventually } from "../../../testing/eventually.ts";
import type { ClockOffset } from "../../etcd/clock-offset.ts";
import {
  Diagnostic,
  EtcdMember,
  EtcdRootSecret,
  EtcdSpec,
  etcdRootSecretId,
  etcdSpecId,
} from "../../resources/index.ts";
import { createClockSkewController } from "./clock-skew-controller.ts";
import { type DiagnosticsHarness, startDiagnosticsHarness } from "./testing/diagnostics-harness.ts";

const member = (id: string, n: number, isLeader: boolean, healthy = true) =>
  EtcdMember.make(id, {
    name: `cp-${n}`,
    peerUrls: [`https://10.5.0.${n}:2380`],
    clientUrls: [`https://10.5.0.${n}:2379`],
    isLearner: false,
    isLeader,
    healthy,
  });

async function controlPlane(h: DiagnosticsHarness): Promise<void> {
  await h.state.create(
    EtcdSpec.make(etcdSpecId, {
      name: "cp-1",
      address: "10.5.0.1",
      clientUrl: "https://10.5.0.1:2379",
      peerUrl: "https://10.5.0.1:2380",
      dataDir: "/d",
      pkiDir: "/p",
      clusterToken: "t",
      joinEndpoints: [],
      extraArgs: {},
    }),
  );
  await h.state.create(EtcdRootSecret.make(etcdRootSecretId, { crt: "CA", key: "KEY" }));
}

describe("clock skew controller", () => {
  let h: DiagnosticsHarness;
  afterEach(() => h.close());

  it("compares with the etcd leader and reports a skew beyond the threshold and the measurement's error", async () => {
    let offset: ClockOffset = { minMs: 4000, maxMs: 5100 };
    const asked: string[] = [];
    h = await startDiagnosticsHarness(
      createClockSkewController({
        thresholdMs: 2000,
        intervalMs: 30,
        measure: async (url, ca) => {
          assert.equal(ca.crt, "CA");
          asked.push(url);
          return offset;
        },
      }),
    );
    await controlPlane(h);
    await h.state.create(member("a1", 1, false));
    await h.state.create(member("a2", 2, false));
    await h.state.create(member("a3", 3, true));
    assert.deepEqual(await h.diagnostics((ids) => ids.length > 0), ["clock-skew"]);
    assert.ok(
      asked.every((u) => u === "https://10.5.0.3:2379"),
      asked.join(", "),
    );
    const d = await h.state.get(Diagnostic.ptr("clock-skew"));
    assert.equal(d.spec.message, "this machine's clock is 4.0 s or more behind cp-3, the etcd leader");
    // Within the error of one HTTP Date header (a second, plus the round trip): not a skew.
    offset = { minMs: -600, maxMs: 2500 };
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 0), []);
    offset = { minMs: -9000, maxMs: -7900 };
    await h.diagnostics((ids) => ids.length === 1);
    assert.match(
      (await h.state.get(Diagnostic.ptr("clock-skew"))).spec.message,
      /7\.9 s or more ahead of cp-3/,
    );
  });

  it("on the leader compares with another healthy member; without one (or without etcd) reports nothing", async () => {
    const asked: string[] = [];
    h = await startDiagnosticsHarness(
      createClockSkewController({
        intervalMs: 30,
        measure: async (url) => {
          asked.push(url);
          return { minMs: 10_000, maxMs: 11_000 };
        },
      }),
    );
    await h.state.create(member("a1", 1, true));
    await h.state.create(member("a2", 2, false, false));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(asked, [], "no EtcdSpec: not a control plane running etcd");
    await controlPlane(h);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(asked, [], "the only other member is unhealthy");
    await h.state.create(member("a3", 3, false));
    await eventually("a measurement", () => (asked.length > 0 ? true : undefined));
    assert.ok(
      asked.every((u) => u === "https://10.5.0.3:2379"),
      asked.join(", "),
    );
    assert.deepEqual(await h.diagnostics((ids) => ids.length > 0), ["clock-skew"]);
  });
});
