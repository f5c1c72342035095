import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { hasCode } from "../../errors/plinth-error.ts";
import { defineResource } from "./definition.ts";
import { createRegistry } from "./registry.ts";
import { frozenJsonCopy } from "./resource.ts";

const schema = z.object({ x: z.string() });

describe("resource definitions and registry", () => {
  it("resolves types by name or alias, case-insensitively", () => {
    const Hostname = defineResource({
      type: "HostnameSpec",
      namespace: "network",
      aliases: ["hostname"],
      schema,
    });
    const reg = createRegistry([Hostname]);
    assert.equal(reg.resolve("hostnamespec"), Hostname);
    assert.equal(reg.resolve("Hostname"), Hostname);
    assert.throws(
      () => reg.resolve("nope"),
      (e) => hasCode(e, "not_found") && /'nope'/.test((e as Error).message),
    );
  });

  it("refuses a duplicate type or alias, naming the clash", () => {
    const a = defineResource({ type: "ASpec", namespace: "n", aliases: ["a"], schema });
    const b = defineResource({ type: "BSpec", namespace: "n", aliases: ["A"], schema });
    const reg = createRegistry([a]);
    assert.throws(() => reg.register(b), /name 'A' is already used by ASpec/);
    assert.throws(() => reg.register(a), /already registered/);
  });

  it("rejects badly named definitions", () => {
    assert.throws(() => defineResource({ type: "lower", namespace: "n", schema }), /PascalCase.*'lower'/);
    assert.throws(() => defineResource({ type: "Ok", namespace: "", schema }), /namespace/);
  });

  it("builds typed pointers and unstored resources", () => {
    const T = defineResource({ type: "TSpec", namespace: "ns", schema });
    assert.deepEqual(T.ptr("x"), { namespace: "ns", type: "TSpec", id: "x" });
    const r = T.make("x", { x: "1" }, { labels: { a: "b" }, namespace: "other" });
    assert.equal(r.metadata.version, 0);
    assert.equal(r.metadata.namespace, "other");
    assert.deepEqual(r.metadata.labels, { a: "b" });
  });

  it("copies specs as frozen JSON and refuses non-JSON values", () => {
    const src = { a: [1, { b: "c" }], skip: undefined };
    const copy = frozenJsonCopy(src);
    assert.deepEqual(copy, { a: [1, { b: "c" }] });
    assert.ok(Object.isFrozen(copy) && Object.isFrozen(copy.a) && Object.isFrozen(copy.a[1]));
    assert.notEqual(copy.a, src.a);
    assert.throws(
      () => frozenJsonCopy({ when: new Date() }),
      /spec\.when must be plain JSON data, found a Date/,
    );
    assert.throws(() => frozenJsonCopy({ n: Number.NaN }), /spec\.n must be a finite number/);
    assert.throws(() => frozenJsonCopy({ f: () => 1 }), /spec\.f must be JSON data, found a function/);
  });
});
