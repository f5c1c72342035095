import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { formatIssue } from "../config-issue.ts";
import { loadConfig } from "../load-config.ts";
import { parseConfigText } from "../parse-config-text.ts";
import { type Fixtures, fixtures } from "../testing/fixtures.ts";
import { validateDocuments } from "../validate-documents.ts";
import { configKinds, MachineSecrets } from "./index.ts";

/** Validates one document alone (partial, so the two required kinds need not be there). */
function check(text: string): string[] {
  const result = loadConfig(`apiVersion: v1alpha1\n${text}`, { partial: true });
  return result.ok ? [] : result.issues.map((i) => formatIssue(i, "t.yaml"));
}

const invalid: [kind: string, body: string, expected: RegExp][] = [
  [
    "MachineConfig",
    "type: master\ntrust: {ca: {crt: x}}",
    /type: expected one of "controlplane", "worker", got "master"/,
  ],
  ["MachineConfig", "type: worker", /trust: required, expected a mapping/],
  [
    "MachineConfig",
    "type: worker\napi: {port: 70000}\ntrust: {ca: {crt: x}}",
    /api\.port: expected a number <= 65535, got 70000/,
  ],
  [
    "MachineConfig",
    "type: worker\ntrust: {ca: {crt: not-a-pem}}",
    /trust\.ca\.crt: expected one PEM certificate/,
  ],
  [
    "MachineConfig",
    "type: worker\ninstall: {healthTimeout: soon}\ntrust: {ca: {crt: x}}",
    /install\.healthTimeout: expected a positive duration/,
  ],
  [
    "ClusterConfig",
    "name: Demo!\nid: abcdefghijklmnop\nsecret: x\ncontrolPlane: {endpoint: 'https://a:1'}",
    /name: expected a name of lower-case letters/,
  ],
  [
    "ClusterConfig",
    "name: demo\nid: short\nsecret: x\ncontrolPlane: {endpoint: 'https://a:1'}",
    /id: expected a URL-safe id of 16 to 256 characters/,
  ],
  [
    "ClusterConfig",
    "name: demo\nid: abcdefghijklmnop\nsecret: c2hvcnQ=\ncontrolPlane: {endpoint: 'https://a:1'}",
    /secret: expected 32 bytes, base64-encoded/,
  ],
  [
    "ClusterConfig",
    "name: demo\nid: abcdefghijklmnop\nsecret: q3cRk1PjYtU0xvqG8s9jzjGkYl5pWwVvP6dFsTn8b0Q=\ncontrolPlane: {endpoint: 10.5.0.2:6443}",
    /controlPlane\.endpoint: expected a URL with a host/,
  ],
  ["Hostname", "hostname: -bad-", /hostname: expected a DNS name/],
  ["Hostname", "auto: random", /auto: expected "stable", got "random"/],
  ["Hostname", "# neither", /\(document\): set exactly one of 'hostname' and 'auto'/],
  ["Resolvers", "nameservers: [1.1.1.1, 8.8.8.8, 9.9.9.9, 1.0.0.1]", /nameservers: expected at most 3 items/],
  ["Resolvers", "nameservers: [1.1.1.256]", /nameservers\[0\]: expected an IP address/],
  [
    "StaticHosts",
    "hosts: [{ip: 10.0.0.1, aliases: [a]}, {ip: 10.0.0.1, aliases: [b]}]",
    /hosts\[1\]\.ip: duplicate entry for 10\.0\.0\.1/,
  ],
  ["StaticHosts", "hosts: [{ip: 10.0.0.1, aliases: []}]", /hosts\[0\]\.aliases: expected at least 1 item/],
  [
    "Sysctls",
    "sysctls: {ip_forward: '1'}",
    /sysctls\.ip_forward: invalid key "ip_forward": expected a sysctl key/,
  ],
  [
    "Sysctls",
    "sysctls: {net.ipv4.ip_forward: ''}",
    /expected a non-empty one-line string or a number, got ""/,
  ],
  ["Files", "files: [{path: /etc/../passwd}]", /files\[0\]\.path: expected an absolute, normalized path/],
  [
    "Files",
    "files: [{path: /etc/motd, mode: 0o17777}]",
    /files\[0\]\.mode: expected a file mode from 0 to 0o7777/,
  ],
  ["Files", "files: [{path: /etc/motd, mode: '0999'}]", /files\[0\]\.mode: expected a file mode/],
  [
    "Files",
    "files: [{path: /etc/motd, op: merge}]",
    /files\[0\]\.op: expected one of "create", "overwrite", "append", got "merge"/,
  ],
  ["Files", "files: [{path: /a}, {path: /a}]", /files\[1\]\.path: duplicate file \/a/],
  ["Link", "name: eth0\ntype: vlan", /vlan: required for a link of type vlan/],
  ["Link", "name: averyveryverylongname", /name: expected a Linux link name/],
  ["Link", "name: v0\ntype: veth", /veth: required for a link of type veth/],
  ["Link", "name: v0\ntype: veth\nveth: {peer: v0}", /veth\.peer: a veth's peer needs a name of its own/],
  ["Link", "name: bond0\ntype: bond\nbond: {mode: fastest}", /bond\.mode: expected one of "balance-rr"/],
  ["Link", "name: br0\ntype: bridge\nbond: {}", /bond: only allowed for type bond, not bridge/],
  [
    "Link",
    "name: br0\ntype: dummy\nbridge: {ports: [eth1]}",
    /bridge: only allowed for type bridge, not dummy/,
  ],
  ["Address", "name: eth0\naddresses: [10.5.0.2/33]", /addresses\[0\]: expected an IP prefix \(CIDR\)/],
  ["Address", "name: eth0\naddresses: [10.5.0.0/24]", /10\.5\.0\.0\/24 is the network address of its prefix/],
  [
    "Address",
    "name: eth0\naddresses: [10.5.0.255/24]",
    /10\.5\.0\.255\/24 is the broadcast address of its prefix/,
  ],
  [
    "Route",
    "name: r\ndestination: 10.0.0.1/8\ngateway: 10.0.0.254",
    /destination: 10\.0\.0\.1\/8 has host bits set; the network is 10\.0\.0\.0\/8/,
  ],
  ["Route", "name: r\ndestination: ::/0\ngateway: 10.0.0.1", /gateway: IPv4 gateway for an IPv6 destination/],
  ["Route", "name: r", /\(document\): set 'gateway', 'link' or both/],
  ["Service", "name: web\ncommand: python3", /command: expected an absolute, normalized path/],
  [
    "Service",
    "name: web\ncommand: /bin/x\nrestart: sometimes",
    /restart: expected one of "always", "on-failure", "never"/,
  ],
  [
    "Service",
    "name: web\ncommand: /bin/x\nhealthCheck: {interval: 1s}",
    /healthCheck: set exactly one of 'command' and 'tcp'/,
  ],
  [
    "Service",
    "name: web\ncommand: /bin/x\ndependsOn: [web]",
    /dependsOn\[0\]: a service cannot depend on itself/,
  ],
  ["Mesh", "mtu: 1000", /mtu: expected a number >= 1280, got 1000/],
  [
    "Mesh",
    "filters: {endpoints: ['!10.0.0.0/33']}",
    /filters\.endpoints\[0\]: expected a prefix like 10\.0\.0\.0\/8, or !10\.0\.0\.0\/8/,
  ],
  ["Mesh", "extraEndpoints: ['fd00::1:51820']", /extraEndpoints\[0\]: expected ip:port like/],
  ["Mesh", "extraEndpoints: ['10.0.0.1:0']", /extraEndpoints\[0\]: expected ip:port like/],
  ["Discovery", "enabled: true", /endpoint: required when discovery is enabled/],
  ["Discovery", "endpoint: https://d:3000\nttl: 1h", /ttl: at most 30m, got 1h/],
  [
    "APIBalancer",
    "healthCheck: {interval: 1s, timeout: 2s}",
    /healthCheck\.timeout: must not exceed the interval \(1s\), got 2s/,
  ],
  [
    "MachineSecrets",
    "cluster: {id: abcdefghijklmnop, secret: x}\nbootstrapToken: short\ncerts: {}",
    /bootstrapToken: expected a bootstrap token/,
  ],
];

describe("document kinds", () => {
  let fx: Fixtures;
  before(async () => {
    fx = await fixtures();
  });

  it("the documented examples together form a valid config, and the secrets example stands alone", () => {
    const machine = configKinds.filter((k) => k.kind !== "MachineSecrets");
    for (const text of [machine.map((k) => k.example).join("---\n"), MachineSecrets.example]) {
      const result = loadConfig(fx.fillPlaceholders(text));
      assert.ok(result.ok, result.ok ? "" : result.issues.map((i) => formatIssue(i, "examples")).join("\n"));
    }
  });

  for (const def of configKinds) {
    it(`${def.kind}: the documented example passes its schema`, () => {
      const parsed = parseConfigText(fx.fillPlaceholders(def.example));
      const result = validateDocuments(parsed.documents);
      assert.deepEqual(result.issues, []);
      assert.equal(result.documents[0]?.value.kind, def.kind);
    });

    it(`${def.kind}: an unknown field is an error naming the field`, () => {
      const errors = check(
        `${fx.fillPlaceholders(def.example).replace(/^apiVersion: v1alpha1\n/, "")}colour: blue\n`,
      );
      assert.ok(
        errors.some((e) => e.includes(`(${def.kind}): colour: unknown field`)),
        errors.join("\n"),
      );
    });
  }

  it("has a table case for every kind", () => {
    const covered = new Set(invalid.map(([kind]) => kind));
    assert.deepEqual(
      configKinds.map((k) => k.kind).filter((k) => !covered.has(k)),
      [],
    );
  });

  for (const [kind, body, expected] of invalid) {
    it(`${kind}: rejects ${body.replace(/\n/g, "; ")}`, () => {
      const errors = check(`kind: ${kind}\n${body}\n`);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `expected ${expected}, got:\n${errors.join("\n")}`,
      );
      assert.ok(
        errors.every((e) => e.startsWith(`t.yaml: document 1 (${kind}): `)),
        errors.join("\n"),
      );
    });
  }

  it("accepts the three spellings of a file mode and stores a number", () => {
    for (const mode of ["0o644", "420", '"0644"', '"0o644"']) {
      const result = loadConfig(
        `apiVersion: v1alpha1\nkind: Files\nfiles: [{path: /etc/motd, mode: ${mode}}]\n`,
        {
          partial: true,
        },
      );
      assert.ok(result.ok, mode);
      assert.equal(result.bundle.get("Files").files[0]?.mode, 0o644);
    }
  });

  it("keeps sysctl numbers as strings and fills defaults", () => {
    const result = loadConfig(
      "apiVersion: v1alpha1\nkind: Sysctls\nsysctls: {net.ipv4.ip_forward: 1, vm.swappiness: '10'}\n---\napiVersion: v1alpha1\nkind: Mesh\n---\napiVersion: v1alpha1\nkind: Discovery\nendpoint: https://d:3000\n",
      { partial: true },
    );
    assert.ok(result.ok);
    assert.deepEqual(result.bundle.get("Sysctls").sysctls, {
      "net.ipv4.ip_forward": "1",
      "vm.swappiness": "10",
    });
    const mesh = result.bundle.get("Mesh");
    assert.equal(mesh.mtu, 1420);
    assert.equal(mesh.port, 51820);
    assert.equal(mesh.allowDownPeerBypass, false);
  });
});
