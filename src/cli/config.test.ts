import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseClientConfig } from "../config/client-config.ts";
import {
  configContexts,
  configInfo,
  configMerge,
  configSetEndpoints,
  configSetNodes,
  configUseContext,
} from "./config.ts";
import { runGenConfig } from "./gen.ts";
import { plinthconfigPath } from "./plinthconfig-file.ts";
import { captureIo } from "./testing-io.ts";

describe("plinth config", () => {
  let dir: string;
  let generated: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-config-"));
    const out = join(dir, "gen");
    await runGenConfig(
      "demo",
      "https://10.5.0.2:6443",
      { configPatch: [], configPatchControlPlane: [], configPatchWorker: [], outputDir: out },
      captureIo(),
    );
    generated = join(out, "plinthconfig");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("finds the client config by flag, then PLINTHCONFIG, then ~/.plinth/config", () => {
    assert.equal(plinthconfigPath("/x", captureIo({ PLINTHCONFIG: "/y" }, "/home/u")), "/x");
    assert.equal(plinthconfigPath(undefined, captureIo({ PLINTHCONFIG: "/y" }, "/home/u")), "/y");
    assert.equal(plinthconfigPath(undefined, captureIo({}, "/home/u")), "/home/u/.plinth/config");
  });

  it("merge creates the config (0600 in a 0700 dir) and renames clashing contexts", async () => {
    const home = join(dir, "home");
    const io = captureIo({}, home);
    assert.equal(await configMerge(generated, {}, io), 0);
    const path = join(home, ".plinth", "config");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(home, ".plinth"))).mode & 0o777, 0o700);
    assert.equal(await configMerge(generated, {}, io), 0);
    assert.match(io.stdout, /renamed config context "demo" -> "demo-1"/);
    const config = parseClientConfig(await readFile(path, "utf8"), path);
    assert.deepEqual(Object.keys(config.contexts), ["demo", "demo-1"]);
    assert.equal(config.context, "demo-1");
  });

  it("contexts lists them with the current one marked; context switches", async () => {
    const flags = { plinthconfig: join(dir, "home", ".plinth", "config") };
    const io = captureIo();
    await configUseContext("demo", flags, io);
    await configContexts(flags, io);
    assert.match(
      io.stdout,
      /CURRENT {3}NAME {5}ENDPOINTS {3}NODES\n\* {9}demo {5}10\.5\.0\.2 {4}-\n {10}demo-1 {3}10\.5\.0\.2 {4}-\n/,
    );
    await assert.rejects(
      configUseContext("nope", flags, io),
      /context "nope" is not in the client config; known: demo, demo-1/,
    );
  });

  it("endpoint and node set the current context, or the one named by --context", async () => {
    const flags = { plinthconfig: join(dir, "home", ".plinth", "config") };
    const io = captureIo();
    await configSetEndpoints(["10.5.0.3", "10.5.0.4"], flags, io);
    await configSetNodes(["10.5.0.9"], { ...flags, context: "demo-1" }, io);
    const config = parseClientConfig(await readFile(flags.plinthconfig, "utf8"), "c");
    assert.deepEqual(config.contexts.demo?.endpoints, ["10.5.0.3", "10.5.0.4"]);
    assert.deepEqual(config.contexts["demo-1"]?.nodes, ["10.5.0.9"]);
    assert.equal(config.contexts.demo?.nodes, undefined);
  });

  it("info shows endpoints, nodes, roles and expiry", async () => {
    const io = captureIo({ PLINTHCONFIG: join(dir, "home", ".plinth", "config") });
    assert.equal(await configInfo({ context: "demo-1" }, io), 0);
    assert.match(
      io.stdout,
      /^Current context: {6}demo-1\nNodes: {16}10\.5\.0\.9\nEndpoints: {12}10\.5\.0\.2\nRoles: {16}os:admin\nCertificate expires: {2}in 36[45] days \(/,
    );
  });

  it("says where the missing client config was looked for", async () => {
    await assert.rejects(
      configContexts({ plinthconfig: join(dir, "none") }, captureIo()),
      /no client config at .*none; make one with 'plinth gen config'/,
    );
  });
});
