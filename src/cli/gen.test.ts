import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseClientConfig } from "../config/client-config.ts";
import { loadConfig } from "../config/load-config.ts";
import { runGenConfig, runGenSecrets } from "./gen.ts";
import { runMachineconfigPatch } from "./machineconfig.ts";
import { captureIo } from "./testing-io.ts";
import { runValidate } from "./validate.ts";

const plinth = fileURLToPath(new URL("../../bin/plinth.js", import.meta.url));
const noPatches = { configPatch: [], configPatchControlPlane: [], configPatchWorker: [] };

describe("plinth gen, validate, machineconfig patch", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-gen-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gen secrets writes a valid bundle, owner-only, and refuses to overwrite without --force", async () => {
    const out = join(dir, "secrets.yaml");
    const io = captureIo();
    assert.equal(await runGenSecrets({ output: out }, io), 0);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const first = await readFile(out, "utf8");
    assert.ok(loadConfig(first).ok);
    await assert.rejects(
      runGenSecrets({ output: out }, io),
      /refusing to overwrite .*secrets\.yaml; use --force/,
    );
    assert.equal(await readFile(out, "utf8"), first);
    assert.equal(await runGenSecrets({ output: out, force: true }, io), 0);
    assert.notEqual(await readFile(out, "utf8"), first);
  });

  it("gen config writes controlplane.yaml, worker.yaml and plinthconfig that pass validate", async () => {
    const out = join(dir, "cluster");
    const io = captureIo();
    const code = await runGenConfig(
      "demo",
      "https://10.5.0.2:6443",
      { ...noPatches, withSecrets: join(dir, "secrets.yaml"), outputDir: out },
      io,
    );
    assert.equal(code, 0, io.stderr);
    assert.deepEqual((await readdir(out)).sort(), ["controlplane.yaml", "plinthconfig", "worker.yaml"]);
    for (const file of ["controlplane.yaml", "worker.yaml"]) {
      const v = captureIo();
      assert.equal(await runValidate({ config: join(out, file), mode: "host" }, v), 0, v.stderr);
      assert.match(v.stdout, /is valid for host mode/);
    }
    const client = parseClientConfig(await readFile(join(out, "plinthconfig"), "utf8"), "plinthconfig");
    assert.equal(client.context, "demo");
    assert.deepEqual(client.contexts.demo?.endpoints, ["10.5.0.2"]);
    const secrets = loadConfig(await readFile(join(dir, "secrets.yaml"), "utf8"));
    const cp = loadConfig(await readFile(join(out, "controlplane.yaml"), "utf8"));
    assert.ok(secrets.ok && cp.ok);
    assert.equal(cp.bundle.get("ClusterConfig").id, secrets.bundle.get("MachineSecrets").cluster.id);
  });

  it("gen config refuses to overwrite without --force and then writes nothing at all", async () => {
    const out = join(dir, "partial");
    const io = captureIo();
    await runGenConfig("demo", "https://10.5.0.2:6443", { ...noPatches, outputDir: out }, io);
    await writeFile(join(out, "controlplane.yaml"), "mine\n");
    await rm(join(out, "worker.yaml"));
    await assert.rejects(
      runGenConfig("demo", "https://10.5.0.2:6443", { ...noPatches, outputDir: out }, io),
      /refusing to overwrite .*controlplane\.yaml, .*plinthconfig; use --force/,
    );
    assert.equal(await readFile(join(out, "controlplane.yaml"), "utf8"), "mine\n");
    assert.deepEqual((await readdir(out)).sort(), ["controlplane.yaml", "plinthconfig"]);
    assert.equal(
      await runGenConfig("demo", "https://10.5.0.2:6443", { ...noPatches, outputDir: out, force: true }, io),
      0,
    );
    assert.notEqual(await readFile(join(out, "controlplane.yaml"), "utf8"), "mine\n");
  });

  it("gen config applies common and per-type patches in order, from files and inline", async () => {
    const out = join(dir, "patched");
    await writeFile(join(dir, "host.yaml"), "kind: Hostname\nhostname: node\n");
    const io = captureIo();
    const code = await runGenConfig(
      "demo",
      "https://[fd00::2]:6443",
      {
        configPatch: [`@${join(dir, "host.yaml")}`, "kind: Sysctls\nsysctls: {net.ipv4.ip_forward: '1'}"],
        configPatchControlPlane: ['[{"op": "replace", "path": "/Hostname/hostname", "value": "cp"}]'],
        configPatchWorker: [],
        outputDir: out,
      },
      io,
    );
    assert.equal(code, 0, io.stderr);
    const cp = loadConfig(await readFile(join(out, "controlplane.yaml"), "utf8"));
    const worker = loadConfig(await readFile(join(out, "worker.yaml"), "utf8"));
    assert.ok(cp.ok && worker.ok);
    assert.equal(cp.bundle.get("Hostname").hostname, "cp");
    assert.equal(worker.bundle.get("Hostname").hostname, "node");
    assert.equal(worker.bundle.get("Sysctls").sysctls["net.ipv4.ip_forward"], "1");
    const client = parseClientConfig(await readFile(join(out, "plinthconfig"), "utf8"), "c");
    assert.deepEqual(client.contexts.demo?.endpoints, ["fd00::2"]);
  });

  it("gen config rejects a patch that makes a config invalid, writing nothing", async () => {
    const out = join(dir, "invalid");
    const io = captureIo();
    const code = await runGenConfig(
      "demo",
      "https://10.5.0.2:6443",
      {
        ...noPatches,
        configPatchWorker: ["kind: MachineConfig\ntrust:\n  token:\n    $patch: delete\n"],
        outputDir: out,
      },
      io,
    );
    assert.equal(code, 1);
    assert.equal(
      io.stderr,
      `${join(out, "worker.yaml")}: document 1 (MachineConfig): trust: a worker needs 'token' or 'certificate' to authenticate to the control plane\n`,
    );
    await assert.rejects(stat(out), /ENOENT/);
  });

  it("gen config names a bad NAME or ENDPOINT", async () => {
    const flags = { ...noPatches, outputDir: join(dir, "never") };
    await assert.rejects(
      runGenConfig("Demo Cluster", "https://a:1", flags, captureIo()),
      /NAME must be lower-case .*got "Demo Cluster"/,
    );
    await assert.rejects(
      runGenConfig("demo", "10.5.0.2:6443", flags, captureIo()),
      /ENDPOINT must be a URL like https:\/\/10\.5\.0\.2:6443, got "10\.5\.0\.2:6443"/,
    );
  });

  it("validate prints every error in the documented format and exits 1", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "apiVersion: v1alpha1\nkind: Files\nfiles:\n  - path: etc/motd\n---\napiVersion: v1alpha1\nkind: Bogus\n",
    );
    const io = captureIo();
    assert.equal(await runValidate({ config: file, mode: "host" }, io), 1);
    assert.deepEqual(io.stderr.trimEnd().split("\n"), [
      `${file}: document 1 (Files): files[0].path: expected an absolute, normalized path like /etc/motd (no '.', '..', '//' or trailing '/'), got "etc/motd" (line 4)`,
      `${file}: document 2 (Bogus): kind: unknown kind "Bogus", expected one of MachineConfig, ClusterConfig, Hostname, Resolvers, StaticHosts, Sysctls, Files, Link, Address, Route, Service, Mesh, Discovery, APIBalancer, MachineSecrets (line 7)`,
    ]);
    await assert.rejects(
      runValidate({ config: join(dir, "missing.yaml"), mode: "host" }, io),
      /cannot read --config .*missing\.yaml: no such file/,
    );
  });

  it("machineconfig patch prints or writes the patched config, and rejects invalid results", async () => {
    const file = join(dir, "cluster", "worker.yaml");
    const printed = captureIo();
    assert.equal(
      await runMachineconfigPatch(file, { patch: ["kind: Hostname\nhostname: w1"], mode: "host" }, printed),
      0,
    );
    const result = loadConfig(printed.stdout);
    assert.ok(result.ok);
    assert.equal(result.bundle.get("Hostname").hostname, "w1");
    assert.equal(result.bundle.get("MachineConfig").type, "worker");

    const out = join(dir, "w1.yaml");
    const written = captureIo();
    assert.equal(
      await runMachineconfigPatch(
        file,
        { patch: ['[{"op":"add","path":"/Hostname","value":{"auto":"stable"}}]'], output: out, mode: "host" },
        written,
      ),
      0,
    );
    assert.equal(written.stdout, `wrote ${out}\n`);
    const fromFile = loadConfig(await readFile(out, "utf8"));
    assert.ok(fromFile.ok && fromFile.bundle.get("Hostname").auto === "stable");

    const bad = captureIo();
    assert.equal(
      await runMachineconfigPatch(
        file,
        { patch: ["kind: Hostname\nhostname: 'no spaces'"], mode: "host" },
        bad,
      ),
      1,
    );
    assert.match(
      bad.stderr,
      /worker\.yaml \(patched\): document 3 \(Hostname\): hostname: expected a DNS name .*, got "no spaces"\n$/,
    );
    assert.equal(bad.stdout, "");

    await assert.rejects(
      runMachineconfigPatch(file, { patch: ["- {op: remove, path: /Hostname}"], mode: "host" }, captureIo()),
      /^PlinthError: --patch: operation 1 \(remove \/Hostname\): path not found: no 'Hostname'$/,
    );
  });

  it("the installed CLI runs gen config → validate end to end", () => {
    const out = join(dir, "e2e");
    const run = (...args: string[]) => spawnSync(process.execPath, [plinth, ...args], { encoding: "utf8" });
    const gen = run("gen", "config", "e2e", "https://10.5.0.2:6443", "-o", out);
    assert.equal(gen.status, 0, gen.stderr);
    const ok = run("validate", "--config", join(out, "controlplane.yaml"), "--mode", "netns");
    assert.equal(ok.status, 0, ok.stderr);
    const again = run("gen", "config", "e2e", "https://10.5.0.2:6443", "-o", out);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^plinth: refusing to overwrite /);
  });
});
