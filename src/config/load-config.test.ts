import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { formatIssue } from "./config-issue.ts";
import { loadConfig, validateConfigValues } from "./load-config.ts";
import { type Fixtures, fixtures, yamlOf } from "./testing/fixtures.ts";

function errors(text: string, options = {}): string[] {
  const result = loadConfig(text, options);
  return result.ok ? [] : result.issues.map((i) => formatIssue(i, "c.yaml"));
}

describe("loadConfig", () => {
  let fx: Fixtures;
  before(async () => {
    fx = await fixtures();
  });

  it("accepts a generated config and finds documents by kind", () => {
    const result = loadConfig(yamlOf(...fx.controlplane));
    assert.ok(result.ok);
    assert.equal(result.bundle.get("MachineConfig").type, "controlplane");
    assert.equal(result.bundle.get("MachineConfig").api.port, 50000);
    assert.equal(result.bundle.find("Hostname"), undefined);
    assert.throws(() => result.bundle.get("Hostname"), /the config has no Hostname document/);
    assert.equal(result.raw.length, 2);
  });

  it("prints every error as <file>: document <n> (<kind>): <path>: <message> with its line", () => {
    const text = `${yamlOf(...fx.worker)}---
apiVersion: v1alpha1
kind: Files
files:
  - path: relative
---
apiVersion: v1alpha1
kind: Sysctls
sysctls: {net.ipv4.ip_forward: "1"}
extra: true
`;
    assert.deepEqual(
      errors(text).map((e) => e.replace(/ \(line \d+\)$/, "")),
      [
        "c.yaml: document 3 (Files): files[0].path: expected an absolute, normalized path like /etc/motd (no '.', '..', '//' or trailing '/'), got \"relative\"",
        "c.yaml: document 4 (Sysctls): extra: unknown field",
      ],
    );
    assert.match(errors(text)[1] ?? "", /\(line \d+\)$/);
  });

  it("reports the line of the offending node", () => {
    const text =
      "apiVersion: v1alpha1\nkind: Files\nfiles:\n  - path: /etc/a\n  - path: /etc/b\n    op: merge\n";
    assert.match(errors(text, { partial: true })[0] ?? "", /files\[1\]\.op: .* \(line 6\)$/);
  });

  it("refuses unknown kinds, a missing kind and a wrong apiVersion", () => {
    assert.match(
      errors("apiVersion: v1alpha1\nkind: Kubelet\n", { partial: true })[0] ?? "",
      /document 1 \(Kubelet\): kind: unknown kind "Kubelet", expected one of MachineConfig,/,
    );
    assert.match(
      errors("apiVersion: v1alpha1\nhostname: x\n", { partial: true })[0] ?? "",
      /document 1 \(\?\): kind: required/,
    );
    assert.match(
      errors("apiVersion: v1\nkind: Hostname\nhostname: x\n", { partial: true })[0] ?? "",
      /apiVersion: expected "v1alpha1", got "v1"/,
    );
  });

  it("refuses a duplicate singleton and a repeated name, pointing at the first", () => {
    const host = "apiVersion: v1alpha1\nkind: Hostname\nhostname: a\n";
    assert.deepEqual(errors(`${host}---\n${host}`, { partial: true }), [
      "c.yaml: document 2 (Hostname): kind: duplicate Hostname document, first in document 1; Hostname may appear once (line 6)",
    ]);
    const link = "apiVersion: v1alpha1\nkind: Link\nname: eth0\n";
    const link1 = "apiVersion: v1alpha1\nkind: Link\nname: eth1\n";
    assert.equal(errors(`${link}---\n${link1}`, { partial: true }).length, 0);
    assert.match(
      errors(`${link}---\n${link1}---\n${link}`, { partial: true })[0] ?? "",
      /document 3 \(Link\): name: duplicate Link named "eth0", first in document 1/,
    );
  });

  it("reports YAML syntax errors with their line, together with schema errors elsewhere", () => {
    const text =
      "apiVersion: v1alpha1\nkind: Hostname\nhostname: [a\n---\napiVersion: v1alpha1\nkind: Nope\n";
    const found = errors(text, { partial: true });
    assert.equal(found.length, 2);
    assert.match(found[0] ?? "", /^c\.yaml: document 1 \(\?\): \(document\): YAML: .* \(line \d\)$/);
    assert.match(found[1] ?? "", /document 2 \(Nope\)/);
  });

  it("refuses duplicate keys and documents that are not mappings", () => {
    assert.match(errors("kind: Hostname\nkind: Hostname\n")[0] ?? "", /YAML: Map keys must be unique/);
    assert.match(
      errors("- a\n- b\n")[0] ?? "",
      /document 1 \(\?\): \(document\): expected a mapping with apiVersion and kind, got a list/,
    );
  });

  it("skips empty documents but keeps counting them", () => {
    const text = `---\n---\n${yamlOf(...fx.worker)}---\napiVersion: v1alpha1\nkind: Hostname\nhostname: "bad name"\n---\n`;
    assert.match(errors(text)[0] ?? "", /^c\.yaml: document 4 \(Hostname\)/);
  });

  it("a complete config needs MachineConfig and ClusterConfig unless partial", () => {
    const host = "apiVersion: v1alpha1\nkind: Hostname\nhostname: a\n";
    assert.deepEqual(errors(host), [
      "c.yaml: missing a MachineConfig document; a complete machine config needs one",
      "c.yaml: missing a ClusterConfig document; a complete machine config needs one",
    ]);
    assert.deepEqual(errors(host, { partial: true }), []);
    assert.match(errors("")[0] ?? "", /missing a MachineConfig document/);
  });

  it("a secrets bundle validates alone, and not mixed with machine documents", () => {
    assert.ok(loadConfig(yamlOf(fx.secrets)).ok);
    assert.match(
      errors(yamlOf(fx.secrets, ...fx.worker))[0] ?? "",
      /document 2 \(MachineConfig\): kind: a MachineSecrets bundle stands alone/,
    );
  });

  it("validates plain values the same way", () => {
    const result = validateConfigValues([
      ...fx.worker,
      { apiVersion: "v1alpha1", kind: "Hostname", hostname: 5 },
    ]);
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.issues.map((i) => formatIssue(i, "v")), [
      "v: document 3 (Hostname): hostname: expected string, got number 5",
    ]);
  });

  it("refuses alias bombs instead of expanding them", () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`;
    assert.match(errors(bomb)[0] ?? "", /YAML: .*alias/i);
  });
});
