import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { describe, it } from "node:test";
import type { ConfigBundle } from "../../config/config-bundle.ts";
import { loadConfig } from "../../config/load-config.ts";
import { fixtures, yamlOf } from "../../config/testing/fixtures.ts";
import { etcdArgs } from "./etcd-args.ts";
import { etcdAddress, etcdMemberName, etcdSpecFromConfig, etcdUrl } from "./etcd-spec.ts";

const nic = (address: string, more: Partial<NetworkInterfaceInfo> = {}): NetworkInterfaceInfo =>
  ({
    address,
    family: address.includes(":") ? "IPv6" : "IPv4",
    internal: false,
    netmask: "",
    mac: "00:00:00:00:00:00",
    cidr: null,
    ...more,
  }) as NetworkInterfaceInfo;

const interfaces = {
  lo: [nic("127.0.0.1", { internal: true }), nic("::1", { internal: true })],
  eth0: [nic("fe80::1"), nic("2001:db8::5"), nic("10.5.0.7")],
};

async function bundle(type: "controlplane" | "worker", patch: (docs: unknown[]) => void = () => {}) {
  const f = await fixtures();
  const docs = structuredClone(type === "controlplane" ? f.controlplane : f.worker);
  patch(docs);
  const result = loadConfig(yamlOf(...docs), { mode: "local" });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.bundle as ConfigBundle;
}

const facts = { interfaces, hostname: "cp-1", stateDir: "/var/lib/plinth", useConfigDataDir: false };

describe("etcd address", () => {
  it("is the listen address when that is a specific one", () => {
    assert.equal(etcdAddress("127.0.0.3", interfaces), "127.0.0.3");
    assert.equal(etcdAddress("[2001:db8::9]", interfaces), "2001:db8::9");
  });
  it("is the first non-loopback IPv4 address when listening on a wildcard", () => {
    for (const wildcard of [undefined, "0.0.0.0", "::"])
      assert.equal(etcdAddress(wildcard, interfaces), "10.5.0.7");
  });
  it("falls back to a global IPv6 address, then to 127.0.0.1", () => {
    assert.equal(etcdAddress("0.0.0.0", { eth0: [nic("fe80::1"), nic("2001:db8::5")] }), "2001:db8::5");
    assert.equal(etcdAddress("0.0.0.0", { lo: [nic("127.0.0.1", { internal: true })] }), "127.0.0.1");
  });
  it("puts IPv6 addresses of URLs in brackets", () => {
    assert.equal(etcdUrl("2001:db8::5", 2379), "https://[2001:db8::5]:2379");
    assert.equal(etcdUrl("10.0.0.1", 2380), "https://10.0.0.1:2380");
  });
  it("names members after the hostname and the address, with safe characters", () => {
    assert.equal(etcdMemberName("cp-1", "10.5.0.7"), "cp-1-10.5.0.7");
    assert.equal(etcdMemberName("cp_1", "2001:db8::5"), "cp-1-2001-db8-5");
  });
});

describe("config → etcd spec", () => {
  it("gives workers no etcd", async () => {
    assert.equal(etcdSpecFromConfig(await bundle("worker"), facts), undefined);
  });

  it("derives a control plane's member, URLs, dirs and join endpoint", async () => {
    const result = etcdSpecFromConfig(await bundle("controlplane"), { ...facts, listenHost: "10.5.0.3" });
    const f = await fixtures();
    assert.deepEqual(result?.rootSecret, { crt: f.secrets.certs.etcd.crt, key: f.secrets.certs.etcd.key });
    assert.deepEqual(result?.spec, {
      name: "cp-1-10.5.0.3",
      address: "10.5.0.3",
      clientUrl: "https://10.5.0.3:2379",
      peerUrl: "https://10.5.0.3:2380",
      dataDir: "/var/lib/plinth/etcd/data",
      pkiDir: "/var/lib/plinth/etcd/pki",
      clusterToken: "demo",
      // The fixtures' endpoint is https://10.5.0.2:6443.
      joinEndpoints: ["https://10.5.0.2:2379"],
      extraArgs: {},
    });
  });

  it("keeps data in ClusterConfig.etcd.dataDir only when told to (root in host mode)", async () => {
    const b = await bundle("controlplane", (docs) => {
      (docs[1] as { etcd: { dataDir?: string } }).etcd.dataDir = "/srv/etcd";
    });
    assert.equal(etcdSpecFromConfig(b, { ...facts, useConfigDataDir: true })?.spec.dataDir, "/srv/etcd");
    assert.equal(etcdSpecFromConfig(b, facts)?.spec.dataDir, "/var/lib/plinth/etcd/data");
  });

  it("uses MachineConfig.api.listenAddress without --listen, and the interfaces for a wildcard", async () => {
    const specific = await bundle("controlplane", (docs) => {
      (docs[0] as { api?: object }).api = { listenAddress: "10.5.0.9" };
    });
    assert.equal(etcdSpecFromConfig(specific, facts)?.spec.address, "10.5.0.9");
    assert.equal(etcdSpecFromConfig(await bundle("controlplane"), facts)?.spec.address, "10.5.0.7");
  });

  it("has no join endpoint on the node that is the control-plane endpoint: it waits for bootstrap", async () => {
    const result = etcdSpecFromConfig(await bundle("controlplane"), { ...facts, listenHost: "10.5.0.2" });
    assert.deepEqual(result?.spec.joinEndpoints, []);
  });
});

describe("etcd spec → command line", async () => {
  const spec = etcdSpecFromConfig(
    await bundle("controlplane", (docs) => {
      (docs[1] as { etcd: { extraArgs?: object } }).etcd.extraArgs = {
        "election-timeout": "5000",
        "data-dir": "/elsewhere",
        "listen-client-urls": "http://0.0.0.0:2379",
      };
    }),
    { ...facts, listenHost: "10.5.0.3" },
  )!.spec;

  it("starts a new cluster with itself as the only member", () => {
    const { args } = etcdArgs(spec, { state: "new", members: `${spec.name}=${spec.peerUrl}` });
    assert.ok(args.includes("--initial-cluster=cp-1-10.5.0.3=https://10.5.0.3:2380"));
    assert.ok(args.includes("--initial-cluster-state=new"));
    assert.ok(args.includes("--initial-cluster-token=demo"));
  });

  it("joins with the member list and state existing", () => {
    const members = "cp-0=https://10.5.0.2:2380,cp-1-10.5.0.3=https://10.5.0.3:2380";
    const { args } = etcdArgs(spec, { state: "existing", members });
    assert.ok(args.includes(`--initial-cluster=${members}`));
    assert.ok(args.includes("--initial-cluster-state=existing"));
  });

  it("passes no initial-cluster flags when etcd starts from its data", () => {
    assert.deepEqual(
      etcdArgs(spec, undefined).args.filter((a) => a.startsWith("--initial-cluster")),
      [],
    );
  });

  it("serves clients and peers over TLS from the state dir's certificates, with client certs required", () => {
    const { args } = etcdArgs(spec, undefined);
    for (const flag of [
      "--name=cp-1-10.5.0.3",
      "--data-dir=/var/lib/plinth/etcd/data",
      "--listen-client-urls=https://10.5.0.3:2379",
      "--advertise-client-urls=https://10.5.0.3:2379",
      "--listen-peer-urls=https://10.5.0.3:2380",
      "--initial-advertise-peer-urls=https://10.5.0.3:2380",
      "--cert-file=/var/lib/plinth/etcd/pki/member.crt",
      "--key-file=/var/lib/plinth/etcd/pki/member.key",
      "--trusted-ca-file=/var/lib/plinth/etcd/pki/ca.crt",
      "--client-cert-auth=true",
      "--peer-cert-file=/var/lib/plinth/etcd/pki/member.crt",
      "--peer-key-file=/var/lib/plinth/etcd/pki/member.key",
      "--peer-trusted-ca-file=/var/lib/plinth/etcd/pki/ca.crt",
      "--peer-client-cert-auth=true",
    ]) {
      assert.ok(args.includes(flag), `missing ${flag} in ${args.join(" ")}`);
    }
  });

  it("adds extraArgs, and refuses those that would change what the agent sets", () => {
    const { args, refused } = etcdArgs(spec, undefined);
    assert.ok(args.includes("--election-timeout=5000"));
    assert.deepEqual(refused.sort(), ["data-dir", "listen-client-urls"]);
    assert.ok(!args.includes("--data-dir=/elsewhere"));
    assert.equal(args.filter((a) => a.startsWith("--data-dir=")).length, 1);
  });
});
