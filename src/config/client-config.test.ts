import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { verifyCertificate } from "../pki/verify-certificate.ts";
import {
  type ClientConfig,
  decodeCredential,
  mergeClientConfig,
  parseClientConfig,
  selectContext,
  setEndpoints,
  setNodes,
  stringifyClientConfig,
  useContext,
} from "./client-config.ts";
import { generateClientConfig } from "./generate/generate-client-config.ts";
import { type Fixtures, fixtures } from "./testing/fixtures.ts";

describe("client config", () => {
  let fx: Fixtures;
  let demo: ClientConfig;
  before(async () => {
    fx = await fixtures();
    demo = await generateClientConfig({
      contextName: "demo",
      endpoints: ["10.5.0.2"],
      ca: fx.secrets.certs.api,
    });
  });

  it("is shaped like talosctl's: context, and contexts with endpoints and base64 PEM credentials", () => {
    const text = stringifyClientConfig(demo);
    assert.match(
      text,
      /^context: demo\ncontexts:\n {2}demo:\n {4}endpoints:\n {6}- 10\.5\.0\.2\n {4}ca: [A-Za-z0-9+/=]+\n {4}crt: /,
    );
    assert.deepEqual(parseClientConfig(text, "cfg"), demo);
    assert.match(decodeCredential(demo.contexts.demo!.key), /^-----BEGIN PRIVATE KEY-----/);
  });

  it("holds an admin certificate that verifies against the API CA", async () => {
    const ctx = demo.contexts.demo!;
    const result = await verifyCertificate(decodeCredential(ctx.crt), {
      ca: decodeCredential(ctx.ca),
      usage: "client",
    });
    assert.ok(result.valid);
    assert.deepEqual(result.roles, ["os:admin"]);
  });

  it("issues certificates for other roles and refuses unknown ones", async () => {
    const reader = await generateClientConfig({
      contextName: "r",
      endpoints: [],
      ca: fx.secrets.certs.api,
      roles: ["os:reader"],
    });
    const ctx = reader.contexts.r!;
    const result = await verifyCertificate(decodeCredential(ctx.crt), { ca: fx.secrets.certs.api.crt });
    assert.ok(result.valid);
    assert.deepEqual(result.roles, ["os:reader"]);
    await assert.rejects(
      generateClientConfig({
        contextName: "x",
        endpoints: [],
        ca: fx.secrets.certs.api,
        roles: ["root" as "os:admin"],
      }),
      /'roles' must be from os:admin, os:operator, os:reader, os:etcd:backup, current value is 'root'/,
    );
  });

  it("an empty file is an empty config; bad content names the file and field", () => {
    assert.deepEqual(parseClientConfig("", "cfg"), { context: "", contexts: {} });
    assert.throws(
      () =>
        parseClientConfig(
          "context: a\ncontexts:\n  a:\n    endpoints: [x]\n    ca: nope\n    crt: nope\n    key: nope\n",
          "cfg",
        ),
      /cfg: document 1 \(plinthconfig\): contexts\.a\.ca: expected base64 of a PEM CERTIFICATE, got "nope" \(line 5\)/,
    );
  });

  it("switches context, sets endpoints and nodes of the current or a named context", () => {
    const two = mergeClientConfig(demo, { context: "", contexts: { other: demo.contexts.demo! } }).config;
    assert.equal(two.context, "demo");
    assert.equal(useContext(two, "other").context, "other");
    assert.throws(
      () => useContext(two, "nope"),
      /context "nope" is not in the client config; known: demo, other/,
    );
    const withEndpoints = setEndpoints(two, ["10.5.0.3", "10.5.0.4"]);
    assert.deepEqual(withEndpoints.contexts.demo?.endpoints, ["10.5.0.3", "10.5.0.4"]);
    assert.deepEqual(withEndpoints.contexts.other?.endpoints, ["10.5.0.2"]);
    const withNodes = setNodes(two, ["10.5.0.9"], "other");
    assert.deepEqual(withNodes.contexts.other?.nodes, ["10.5.0.9"]);
    assert.equal(withNodes.contexts.demo?.nodes, undefined);
    assert.throws(() => selectContext({ context: "", contexts: {} }), /no current context/);
  });

  it("merge renames on a name clash like talosctl (name-1, name-2) and switches to the merged context", () => {
    const first = mergeClientConfig(demo, demo);
    assert.deepEqual(first.renames, [{ from: "demo", to: "demo-1" }]);
    assert.equal(first.config.context, "demo-1");
    const second = mergeClientConfig(first.config, demo);
    assert.deepEqual(second.renames, [{ from: "demo", to: "demo-2" }]);
    assert.deepEqual(Object.keys(second.config.contexts), ["demo", "demo-1", "demo-2"]);
    const none = mergeClientConfig({ context: "", contexts: {} }, demo);
    assert.deepEqual(none.renames, []);
    assert.equal(none.config.context, "demo");
  });
});
