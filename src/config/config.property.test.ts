import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import { isPlinthError } from "../errors/plinth-error.ts";
import { formatIssue } from "./config-issue.ts";
import type { KindDefinition } from "./kind-definition.ts";
import { configKinds, kindNames } from "./kinds/index.ts";
import { type LoadConfigResult, loadConfig, validateConfigValues } from "./load-config.ts";
import { applyPatch, type ConfigPatch } from "./patch/config-patch.ts";
import type { JsonPatchOperation } from "./patch/json-patch.ts";
import { deepEqual } from "./patch/plain-object.ts";
import { kindJsonSchema } from "./schema/json-schemas.ts";
import { stringifyDocuments } from "./stringify-config.ts";
import { type Fixtures, fixtures } from "./testing/fixtures.ts";

/**
 * Random documents and random patches never crash the parser, the validator or the patcher: they
 * give a valid config or clear errors. Run counts add up to 12,000 cases here; the whole file
 * stays within a few seconds.
 */

const runs = {
  text: 2000,
  documents: 2000,
  mutations: 2000,
  strategic: 2000,
  json: 2000,
  roundTrip: 1000,
  idempotent: 1000,
};

/** Every field name of every kind, so random documents look like real ones. */
function fieldNames(): string[] {
  const names = new Set<string>();
  const walk = (schema: Record<string, unknown>) => {
    for (const [name, sub] of Object.entries(
      (schema.properties ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      names.add(name);
      walk(sub);
      if (sub.items) walk(sub.items as Record<string, unknown>);
    }
  };
  for (const def of configKinds) walk(kindJsonSchema(def as KindDefinition));
  return [...names];
}

const keys = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...fieldNames()) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("$patch", "__proto__", "constructor", "net.ipv4.ip_forward", "eth0"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const scalars = fc.oneof(
  fc.constantFrom(
    "/etc/motd",
    "10.5.0.2/24",
    "10.5.0.1",
    "fd00::1",
    "0o644",
    "0644",
    "delete",
    "replace",
    "eth0",
    "1s",
    "https://10.5.0.2:6443",
    "stable",
    "worker",
    "controlplane",
    "v1alpha1",
  ),
  fc.constantFrom(...kindNames),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 70000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);

const values = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalars,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(keys, tie("value"), { maxKeys: 4 }),
  ),
})).value;

const documents = fc
  .record(
    {
      apiVersion: fc.constantFrom("v1alpha1", "v1alpha1", "v1"),
      kind: fc.oneof(fc.constantFrom(...kindNames), fc.string({ maxLength: 6 })),
      name: fc.constantFrom("eth0", "eth1", "web", "default"),
      body: fc.dictionary(keys, values, { maxKeys: 5 }),
    },
    { requiredKeys: ["kind"] },
  )
  .map(({ body, ...head }) => ({ ...head, ...body }));

/** What every outcome must look like: a bundle, or issues that each format to a clear line. */
function assertClear(result: LoadConfigResult, documentCount: number): void {
  if (result.ok) return;
  assert.ok(result.issues.length > 0);
  for (const issue of result.issues) {
    assert.ok(
      issue.document >= 0 && issue.document <= Math.max(documentCount, 1) + 1000,
      "document number in range",
    );
    const line = formatIssue(issue, "f.yaml");
    assert.match(line, /^f\.yaml: (document \d+ \([^)]*\): \S.*: )?\S/);
    assert.doesNotMatch(line, /\[object Object\]|undefined|NaN/);
  }
}

function assertPatchOutcome(base: readonly unknown[], patch: ConfigPatch): void {
  let patched: unknown[];
  try {
    patched = applyPatch(base, patch);
  } catch (err) {
    assert.ok(isPlinthError(err), `not a PlinthError: ${String(err)}`);
    assert.equal(err.code, "invalid_argument");
    assert.match(err.message, /^p: \S/);
    assert.doesNotMatch(err.message, /\[object Object\]|undefined/);
    return;
  }
  assertClear(validateConfigValues(patched), patched.length);
}

describe("property: random input never crashes the config pipeline", () => {
  let fx: Fixtures;
  let base: unknown[];
  before(async () => {
    fx = await fixtures();
    base = [
      ...fx.controlplane,
      { apiVersion: "v1alpha1", kind: "Files", files: [{ path: "/etc/a", content: "a" }] },
      { apiVersion: "v1alpha1", kind: "Sysctls", sysctls: { "net.ipv4.ip_forward": "1" } },
      { apiVersion: "v1alpha1", kind: "Link", name: "eth0", mtu: 1500 },
      { apiVersion: "v1alpha1", kind: "Address", name: "eth0", addresses: ["10.5.0.2/24"] },
      { apiVersion: "v1alpha1", kind: "Service", name: "web", command: "/bin/true" },
    ];
    assert.ok(validateConfigValues(base).ok);
  });

  it("arbitrary text: parse and validate give a config or clear errors", () => {
    const yamlish = fc.string({
      unit: fc.constantFrom(
        ..."abk:-[]{}&*!|>'\"#\n ---0o1./\t%@`",
        "kind: ",
        "apiVersion: v1alpha1\n",
        "---\n",
        "  - ",
      ),
      maxLength: 80,
    });
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ maxLength: 60 })), (text) => {
        assertClear(loadConfig(text), text.split("---").length);
      }),
      { numRuns: runs.text },
    );
  });

  it("random documents: validation gives a config or clear errors", () => {
    fc.assert(
      fc.property(fc.array(documents, { maxLength: 4 }), (docs) => {
        assertClear(validateConfigValues(docs, { partial: true }), docs.length);
        assertClear(loadConfig(stringifyDocuments(docs)), docs.length);
      }),
      { numRuns: runs.documents },
    );
  });

  it("random mutations of a valid config: a config or clear errors", () => {
    const mutation = fc.record({
      doc: fc.nat(),
      key: keys,
      value: fc.option(values, { nil: undefined }),
      deep: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const docs = structuredClone(base) as Record<string, unknown>[];
        for (const m of mutations) {
          let target = docs[m.doc % docs.length]!;
          const nested = Object.values(target).find(
            (v) => typeof v === "object" && v !== null && !Array.isArray(v),
          );
          if (m.deep && nested) target = nested as Record<string, unknown>;
          if (m.value === undefined) delete target[m.key];
          else
            Object.defineProperty(target, m.key, {
              value: m.value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
        }
        assertClear(validateConfigValues(docs), docs.length);
      }),
      { numRuns: runs.mutations },
    );
  });

  it("random strategic merge patches: a config or clear errors", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(documents, values), { minLength: 1, maxLength: 3 }), (patchDocs) => {
        assertPatchOutcome(base, { type: "strategic", source: "p", documents: patchDocs });
      }),
      { numRuns: runs.strategic },
    );
  });

  it("random JSON patches: a config or clear errors", () => {
    const segment = fc.oneof(
      fc.constantFrom(
        ...kindNames,
        "eth0",
        "web",
        "files",
        "sysctls",
        "0",
        "-",
        "mtu",
        "api",
        "trust",
        "~1",
        "~",
      ),
      keys,
    );
    const pointer = fc.array(segment, { maxLength: 4 }).map((s) => (s.length === 0 ? "" : `/${s.join("/")}`));
    const operation: fc.Arbitrary<JsonPatchOperation> = fc.record({
      op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test"),
      path: pointer,
      from: pointer,
      value: values,
    });
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 4 }), (operations) => {
        assertPatchOutcome(base, { type: "json", source: "p", operations });
      }),
      { numRuns: runs.json },
    );
  });

  it("valid documents round-trip through YAML unchanged", () => {
    const hostLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
    const valid = fc.tuple(
      fc.record({ apiVersion: fc.constant("v1alpha1"), kind: fc.constant("Hostname"), hostname: hostLabel }),
      fc.record({
        apiVersion: fc.constant("v1alpha1"),
        kind: fc.constant("Sysctls"),
        sysctls: fc.dictionary(
          fc.stringMatching(/^net\.[a-z_]{1,8}\.[a-z_]{1,8}$/),
          fc.stringMatching(/^[0-9a-z ]{1,6}$/).filter((s) => s.trim() === s && s !== ""),
          { maxKeys: 4 },
        ),
      }),
      fc.record({
        apiVersion: fc.constant("v1alpha1"),
        kind: fc.constant("Files"),
        files: fc.uniqueArray(
          fc.record({
            path: fc.stringMatching(/^\/etc\/[a-z]{1,8}$/),
            content: fc.string({ maxLength: 40 }),
            mode: fc.integer({ min: 0, max: 0o7777 }),
            op: fc.constantFrom("create", "overwrite", "append"),
          }),
          { selector: (f) => f.path, maxLength: 4 },
        ),
      }),
    );
    fc.assert(
      fc.property(valid, (docs) => {
        const result = loadConfig(stringifyDocuments(docs), { partial: true });
        assert.ok(result.ok, result.ok ? "" : result.issues.map((i) => formatIssue(i, "rt")).join("\n"));
        assert.deepEqual(result.bundle.documents, JSON.parse(JSON.stringify(docs)));
      }),
      { numRuns: runs.roundTrip },
    );
  });

  it("a strategic merge patch applied twice gives what it gave once", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(documents, values), { minLength: 1, maxLength: 3 }), (patchDocs) => {
        const patch: ConfigPatch = { type: "strategic", source: "p", documents: patchDocs };
        let once: unknown[];
        try {
          once = applyPatch(base, patch);
        } catch {
          return;
        }
        assert.ok(deepEqual(applyPatch(once, patch), once));
      }),
      { numRuns: runs.idempotent },
    );
  });
});
