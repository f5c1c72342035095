import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { formatIssue } from "../config-issue.ts";
import { validateConfigValues } from "../load-config.ts";
import { type Fixtures, fixtures } from "../testing/fixtures.ts";
import { applyPatches, parsePatch } from "./config-patch.ts";

const v = "v1alpha1";
const base = [
  {
    apiVersion: v,
    kind: "Files",
    files: [
      { path: "/etc/a", content: "a" },
      { path: "/etc/b", content: "b", mode: 0o600 },
    ],
  },
  { apiVersion: v, kind: "Sysctls", sysctls: { "net.ipv4.ip_forward": "1", "vm.swappiness": "10" } },
  { apiVersion: v, kind: "Link", name: "eth0", mtu: 1500 },
  { apiVersion: v, kind: "Link", name: "eth1" },
  { apiVersion: v, kind: "Resolvers", nameservers: ["1.1.1.1", "8.8.8.8"] },
  { apiVersion: v, kind: "StaticHosts", hosts: [{ ip: "10.0.0.1", aliases: ["a"] }] },
];

function patch(docs: readonly unknown[], ...texts: string[]): unknown[] {
  return applyPatches(
    docs,
    texts.map((t, i) => parsePatch(t, `p${i + 1}`)),
  );
}

function find(docs: unknown[], kind: string, name?: string): Record<string, unknown> | undefined {
  return docs.find(
    (d) =>
      (d as { kind: string }).kind === kind && (name === undefined || (d as { name: string }).name === name),
  ) as Record<string, unknown> | undefined;
}

describe("strategic merge patches", () => {
  it("merge a partial document of the same kind, key by key", () => {
    const out = patch(base, "kind: Sysctls\nsysctls:\n  net.core.somaxconn: '1024'\n  vm.swappiness: '1'\n");
    assert.deepEqual(find(out, "Sysctls")?.sysctls, {
      "net.ipv4.ip_forward": "1",
      "vm.swappiness": "1",
      "net.core.somaxconn": "1024",
    });
  });

  it("merge lists of files by path, keeping the others and their fields", () => {
    const out = patch(
      base,
      "kind: Files\nfiles:\n  - path: /etc/b\n    content: B\n  - path: /etc/c\n    content: c\n",
    );
    assert.deepEqual(find(out, "Files")?.files, [
      { path: "/etc/a", content: "a" },
      { path: "/etc/b", content: "B", mode: 0o600 },
      { path: "/etc/c", content: "c" },
    ]);
  });

  it("merge static hosts by ip", () => {
    const out = patch(
      base,
      "kind: StaticHosts\nhosts:\n  - ip: 10.0.0.1\n    aliases: [b]\n  - ip: 10.0.0.2\n    aliases: [c]\n",
    );
    assert.deepEqual(find(out, "StaticHosts")?.hosts, [
      { ip: "10.0.0.1", aliases: ["b"] },
      { ip: "10.0.0.2", aliases: ["c"] },
    ]);
  });

  it("replace lists of scalars", () => {
    const out = patch(base, "kind: Resolvers\nnameservers: [9.9.9.9]\n");
    assert.deepEqual(find(out, "Resolvers")?.nameservers, ["9.9.9.9"]);
  });

  it("pick a repeatable document by name and add one that is missing", () => {
    const out = patch(base, "kind: Link\nname: eth1\nmtu: 9000\n---\nkind: Link\nname: eth2\ntype: dummy\n");
    assert.deepEqual(find(out, "Link", "eth0"), { apiVersion: v, kind: "Link", name: "eth0", mtu: 1500 });
    assert.deepEqual(find(out, "Link", "eth1"), { apiVersion: v, kind: "Link", name: "eth1", mtu: 9000 });
    assert.deepEqual(find(out, "Link", "eth2"), { apiVersion: v, kind: "Link", name: "eth2", type: "dummy" });
  });

  it("$patch: delete removes a document, a key or a list item, and is a no-op when absent", () => {
    const out = patch(
      base,
      "kind: Link\nname: eth1\n$patch: delete\n---\nkind: Sysctls\nsysctls:\n  vm.swappiness:\n    $patch: delete\n---\nkind: Files\nfiles:\n  - path: /etc/a\n    $patch: delete\n---\nkind: Hostname\n$patch: delete\n",
    );
    assert.equal(find(out, "Link", "eth1"), undefined);
    assert.ok(find(out, "Link", "eth0"));
    assert.deepEqual(find(out, "Sysctls")?.sysctls, { "net.ipv4.ip_forward": "1" });
    assert.deepEqual(find(out, "Files")?.files, [{ path: "/etc/b", content: "b", mode: 0o600 }]);
    assert.equal(out.length, base.length - 1);
  });

  it("$patch: replace replaces a whole mapping", () => {
    const out = patch(base, "kind: Sysctls\nsysctls:\n  $patch: replace\n  kernel.pid_max: '65536'\n");
    assert.deepEqual(find(out, "Sysctls")?.sysctls, { "kernel.pid_max": "65536" });
  });

  it("applies several patches in order", () => {
    const out = patch(base, "kind: Link\nname: eth0\nmtu: 1400\n", "kind: Link\nname: eth0\nmtu: 1300\n");
    assert.equal(find(out, "Link", "eth0")?.mtu, 1300);
  });

  it("names the patch, the document and the problem", () => {
    assert.throws(
      () => patch(base, "kind: Link\nmtu: 1"),
      /^PlinthError: p1: patch document 1 \(Link\): 'name' is required to pick one of the Link documents$/,
    );
    assert.throws(
      () => patch(base, "kind: Nope\n"),
      /p1: patch document 1 \(Nope\): 'kind' must be one of MachineConfig/,
    );
    assert.throws(
      () => patch(base, "apiVersion: v2\nkind: Hostname\n"),
      /'apiVersion' must be v1alpha1, got "v2"/,
    );
    assert.throws(
      () => patch(base, "kind: Sysctls\n$patch: merge\n"),
      /unknown \$patch "merge", expected delete or replace/,
    );
    assert.throws(
      () => patch(base, "kind: Resolvers\nnameservers:\n  - $patch: delete\n"),
      /nameservers\.0: '\$patch: delete' needs a list whose items have a key/,
    );
    assert.throws(
      () => patch(base, "kind: Files\nfiles:\n  - content: x\n"),
      /files\[0\]: items of this list merge by 'path', which is missing/,
    );
    // Also where the list (here, its document) does not exist yet: applied again, the same patch
    // would merge by the key, so it is refused the first time too.
    assert.throws(
      () => patch([], "kind: StaticHosts\nhosts:\n  - null\n"),
      /hosts\[0\]: items of this list merge by 'ip', which is missing/,
    );
  });

  it("never touches the prototype of anything", () => {
    const out = patch(base, 'kind: Sysctls\nsysctls:\n  __proto__: {polluted: "yes"}\n');
    assert.equal(({} as { polluted?: string }).polluted, undefined);
    assert.ok(Object.hasOwn(find(out, "Sysctls")?.sysctls as object, "__proto__"));
  });
});

describe("JSON patches (RFC 6902)", () => {
  it("select a document by kind, and by name where the kind repeats", () => {
    const out = patch(
      base,
      "- op: replace\n  path: /Link/eth0/mtu\n  value: 9000\n- op: add\n  path: /Sysctls/sysctls/kernel.pid_max\n  value: '65536'\n- op: remove\n  path: /Resolvers/nameservers/0\n",
    );
    assert.equal(find(out, "Link", "eth0")?.mtu, 9000);
    assert.equal((find(out, "Sysctls")!.sysctls as Record<string, string>)["kernel.pid_max"], "65536");
    assert.deepEqual(find(out, "Resolvers")?.nameservers, ["8.8.8.8"]);
  });

  it("add and remove whole documents, keeping the order of the others", () => {
    const out = patch(
      base,
      '[{"op": "add", "path": "/Hostname", "value": {"hostname": "node-1"}}, {"op": "remove", "path": "/Link/eth1"}, {"op": "add", "path": "/Link/eth9", "value": {"type": "dummy"}}]',
    );
    assert.deepEqual(
      out.map(
        (d) =>
          `${(d as { kind: string }).kind}${(d as { name?: string }).name ? `/${(d as { name: string }).name}` : ""}`,
      ),
      ["Files", "Sysctls", "Link/eth0", "Resolvers", "StaticHosts", "Link/eth9", "Hostname"],
    );
    assert.deepEqual(find(out, "Link", "eth9"), { apiVersion: v, kind: "Link", name: "eth9", type: "dummy" });
  });

  it("supports test, move and copy", () => {
    const out = patch(
      base,
      "- {op: test, path: /Link/eth0/mtu, value: 1500}\n- {op: copy, from: /Link/eth0/mtu, path: /Link/eth1/mtu}\n- {op: move, from: /Files/files/1, path: /Files/files/0}\n",
    );
    assert.equal(find(out, "Link", "eth1")?.mtu, 1500);
    assert.equal((find(out, "Files")!.files as { path: string }[])[0]?.path, "/etc/b");
  });

  it("fails as a whole with the operation that went wrong", () => {
    assert.throws(
      () => patch(base, "- {op: test, path: /Link/eth0/mtu, value: 1}"),
      /^PlinthError: p1: operation 1 \(test \/Link\/eth0\/mtu\): test failed: the value differs$/,
    );
    assert.throws(
      () => patch(base, "- {op: replace, path: /Hostname/hostname, value: x}"),
      /operation 1 \(replace \/Hostname\/hostname\): path not found: no 'Hostname'/,
    );
    assert.throws(
      () => patch(base, "- {op: remove, path: /Resolvers/nameservers/5}"),
      /index 5 is out of range \(the list has 2 items\)/,
    );
    assert.throws(() => patch(base, "- {op: add, path: Link, value: 1}"), /a JSON pointer starts with '\/'/);
    assert.throws(() => patch(base, "- {op: add, path: /Kubelet, value: {}}"), /\/Kubelet: unknown kind/);
    assert.throws(
      () => patch(base, "- {op: add, path: /Link/eth5, value: {name: eth6}}"),
      /name is "eth6" but the path says eth5/,
    );
    assert.throws(() => patch(base, "- {op: jump, path: /x}"), /p1: operation 1: op: /);
    assert.throws(() => patch(base, "- {op: move, path: /x}"), /p1: operation 1: from: required/);
    assert.throws(() => patch(base, "- 5"), /operation 1: .*each operation is a mapping with op and path/);
  });
});

describe("patch input", () => {
  it("refuses empty patches and mixed documents", () => {
    assert.throws(() => parsePatch("", "p"), /p: the patch is empty/);
    assert.throws(() => parsePatch("kind: Link\n---\n- a\n", "p"), /p: document 2: expected a mapping/);
    assert.throws(
      () => parsePatch("kind: [", "p"),
      /^PlinthError: p: document 1 \(\?\): \(document\): YAML:/,
    );
  });
});

describe("patched configs are validated like any other", () => {
  let fx: Fixtures;
  before(async () => {
    fx = await fixtures();
  });

  it("generate → validate → patch → validate", () => {
    const patched = patch(
      fx.controlplane,
      "kind: Hostname\nhostname: cp-1\n---\nkind: Files\nfiles: [{path: /etc/motd, content: hi, mode: 0o600}]\n",
      "- {op: add, path: /MachineConfig/api, value: {certSANs: [10.5.0.2]}}",
    );
    const result = validateConfigValues(patched);
    assert.ok(result.ok, result.ok ? "" : result.issues.map((i) => formatIssue(i, "x")).join("\n"));
    assert.equal(result.bundle.get("Hostname").hostname, "cp-1");
    assert.deepEqual(result.bundle.get("MachineConfig").api.certSANs, ["10.5.0.2"]);
  });

  it("an invalid result is rejected with the usual errors", () => {
    const patched = patch(fx.worker, "kind: ClusterConfig\ncontrolPlane:\n  endpoint: nope\n");
    const result = validateConfigValues(patched);
    assert.deepEqual(result.ok ? [] : result.issues.map((i) => formatIssue(i, "out")), [
      'out: document 2 (ClusterConfig): controlPlane.endpoint: expected a URL with a host, scheme https or http, like https://10.5.0.2:6443, got "nope"',
    ]);
  });
});
