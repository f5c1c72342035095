import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { formatIssue } from "../config-issue.ts";
import { type LoadConfigOptions, loadConfig } from "../load-config.ts";
import { type Fixtures, fixtures, yamlOf } from "../testing/fixtures.ts";

type Doc = Record<string, unknown>;

function errors(docs: unknown[], options: LoadConfigOptions = {}): string[] {
  const result = loadConfig(yamlOf(...docs), options);
  return result.ok ? [] : result.issues.map((i) => formatIssue(i, "c.yaml").replace(/ \(line \d+\)$/, ""));
}

const v = "v1alpha1";

describe("semantic checks", () => {
  let fx: Fixtures;
  let cp: Doc[];
  let worker: Doc[];
  before(async () => {
    fx = await fixtures();
    cp = structuredClone(fx.controlplane) as Doc[];
    worker = structuredClone(fx.worker) as Doc[];
  });

  const edit = (docs: Doc[], index: number, change: (d: Doc) => void): Doc[] => {
    const copy = structuredClone(docs);
    change(copy[index]!);
    return copy;
  };

  it("generated controlplane and worker configs pass", () => {
    assert.deepEqual(errors(cp), []);
    assert.deepEqual(errors(worker), []);
  });

  it("a controlplane config carries the etcd CA key", () => {
    const noKey = edit(cp, 1, (d) => {
      delete (d.etcd as { ca: Doc }).ca.key;
    });
    assert.deepEqual(errors(noKey), [
      "c.yaml: document 2 (ClusterConfig): etcd.ca.key: required on a controlplane: a controlplane config carries the etcd CA key",
    ]);
    const noEtcd = edit(cp, 1, (d) => {
      delete d.etcd;
    });
    assert.deepEqual(errors(noEtcd), [
      "c.yaml: document 2 (ClusterConfig): etcd: required on a controlplane: it runs etcd",
    ]);
  });

  it("a controlplane config carries the API CA key", () => {
    const noKey = edit(cp, 0, (d) => {
      delete (d.trust as { ca: Doc }).ca.key;
    });
    assert.deepEqual(errors(noKey), [
      "c.yaml: document 1 (MachineConfig): trust.ca.key: required on a controlplane: it issues certificates",
    ]);
  });

  it("a worker config does not carry the etcd or API CA key", () => {
    const leaky = [
      edit(worker, 0, (d) => {
        (d.trust as { ca: Doc }).ca.key = fx.secrets.certs.api.key;
      })[0]!,
      cp[1] as Doc,
    ];
    assert.deepEqual(errors(leaky), [
      "c.yaml: document 1 (MachineConfig): trust.ca.key: not allowed on a worker: a worker config must not carry the API CA key",
      "c.yaml: document 2 (ClusterConfig): etcd.ca.key: not allowed on a worker: a worker config does not carry the etcd CA key",
    ]);
  });

  it("a worker needs a token or its own certificate", () => {
    const noToken = edit(worker, 0, (d) => {
      delete (d.trust as Doc).token;
    });
    assert.deepEqual(errors(noToken), [
      "c.yaml: document 1 (MachineConfig): trust: a worker needs 'token' or 'certificate' to authenticate to the control plane",
    ]);
  });

  it("CA fields hold CA certificates", () => {
    const notCa = edit(worker, 0, (d) => {
      (d.trust as { ca: Doc }).ca.crt = fx.leaf.crt;
    });
    assert.match(
      errors(notCa)[0] ?? "",
      /document 1 \(MachineConfig\): trust\.ca\.crt: expected a CA certificate, got .*CN=leaf which is not a CA/,
    );
  });

  it("a route's gateway must lie in a prefix of its link, and an address sits on one link", () => {
    const net = [
      { apiVersion: v, kind: "Address", name: "eth0", addresses: ["10.5.0.2/24"] },
      { apiVersion: v, kind: "Address", name: "eth1", addresses: ["10.5.0.2/24", "10.6.0.2/24"] },
      { apiVersion: v, kind: "Route", name: "default", gateway: "10.6.0.1", link: "eth0" },
      { apiVersion: v, kind: "Route", name: "other", gateway: "10.6.0.1", link: "eth1" },
    ];
    assert.deepEqual(errors([...worker, ...net]), [
      "c.yaml: document 4 (Address): addresses[0]: address 10.5.0.2 is also assigned to link eth0",
      "c.yaml: document 5 (Route): gateway: gateway 10.6.0.1 is not inside any address prefix of link eth0 (10.5.0.2/24)",
    ]);
  });

  it("service dependencies exist and have no cycle", () => {
    const svc = (name: string, dependsOn: string[]) => ({
      apiVersion: v,
      kind: "Service",
      name,
      command: "/bin/true",
      dependsOn,
    });
    assert.deepEqual(
      errors([...worker, svc("a", ["b"]), svc("b", ["c", "etcd"]), svc("c", ["a"]), svc("d", ["zz"])]),
      [
        "c.yaml: document 3 (Service): dependsOn: dependency cycle: a -> b -> c -> a",
        "c.yaml: document 6 (Service): dependsOn[0]: no Service named 'zz' in this config",
      ],
    );
    assert.deepEqual(errors([...worker, svc("etcd", [])]), [
      "c.yaml: document 3 (Service): name: 'etcd' is the name of a built-in service",
    ]);
  });

  it("an enabled mesh needs enabled discovery", () => {
    const mesh = { apiVersion: v, kind: "Mesh" };
    assert.deepEqual(errors([...worker, mesh]), [
      "c.yaml: document 3 (Mesh): enabled: an enabled mesh needs an enabled Discovery document: peers come from discovery",
    ]);
    const discovery = { apiVersion: v, kind: "Discovery", endpoint: "https://10.5.0.1:3000" };
    assert.deepEqual(errors([...worker, mesh, discovery]), []);
    assert.deepEqual(errors([...worker, { ...mesh, enabled: false }]), []);
  });

  describe("modes", () => {
    const files = {
      apiVersion: v,
      kind: "Files",
      files: [{ path: "/etc/motd" }, { path: "/usr/local/bin/x" }],
    };
    const sysctls = {
      apiVersion: v,
      kind: "Sysctls",
      sysctls: { "net.ipv4.ip_forward": "1", "vm.swappiness": "1" },
    };
    const link = { apiVersion: v, kind: "Link", name: "eth0", mtu: 1400 };
    const service = { apiVersion: v, kind: "Service", name: "web", command: "/bin/true" };

    it("host allows everything", () => {
      assert.deepEqual(errors([...worker, files, sysctls, link, service], { mode: "host" }), []);
    });

    it("netns keeps files under /etc and /var and sysctls to net.*", () => {
      assert.deepEqual(errors([...worker, files, sysctls, link, service], { mode: "netns" }), [
        "c.yaml: document 3 (Files): files[1].path: not allowed in netns mode: /usr/local/bin/x is outside /etc and /var, the only directories private to the node",
        'c.yaml: document 4 (Sysctls): sysctls["vm.swappiness"]: not allowed in netns mode: only net.* sysctls belong to the network namespace; others change the host',
      ]);
    });

    it("local refuses every document that would change the shared machine", () => {
      const found = errors([...worker, files, sysctls, link, service], { mode: "local" });
      assert.deepEqual(
        found.map((e) => e.replace(/: not allowed in local mode.*/, "")),
        [
          "c.yaml: document 3 (Files): kind",
          "c.yaml: document 4 (Sysctls): kind",
          "c.yaml: document 5 (Link): kind",
        ],
      );
      assert.match(
        found[2] ?? "",
        /a Link document would change the machine the agent shares; use --mode netns or host/,
      );
    });
  });
});
