import { PlinthError } from "../../errors/plinth-error.ts";
import { showValue } from "../config-issue.ts";
import { apiVersion } from "../fields.ts";
import type { KindDefinition } from "../kind-definition.ts";
import { findKind, kindNames } from "../kinds/index.ts";
import { getOwn, isPlainObject, type PlainObject, setOwn } from "./plain-object.ts";

const DELETE = Symbol("delete");

class MergeError extends Error {}

function declaredKey(def: KindDefinition, path: readonly string[]): string | undefined {
  const at = path.join(".");
  return Object.hasOwn(def.listKeys, at) ? def.listKeys[at] : undefined;
}

function requireKey(
  item: unknown,
  key: string,
  path: readonly string[],
  i: number,
): asserts item is PlainObject {
  if (!isPlainObject(item) || !Object.hasOwn(item, key)) {
    throw new MergeError(`${path.join(".")}[${i}]: items of this list merge by '${key}', which is missing`);
  }
}

function listKey(
  def: KindDefinition,
  path: readonly string[],
  base: unknown[],
  patch: unknown[],
): string | undefined {
  const declared = declaredKey(def, path);
  if (declared) return declared;
  const named = (items: unknown[]) => items.every((i) => isPlainObject(i) && typeof i.name === "string");
  return base.length + patch.length > 0 && named(base) && named(patch) ? "name" : undefined;
}

function mergeList(def: KindDefinition, base: unknown, patch: unknown[], path: string[]): unknown[] {
  const key = Array.isArray(base) ? listKey(def, path, base, patch) : undefined;
  if (!key || !Array.isArray(base)) {
    // A list that merges by a declared key refuses items without it even where it starts: the
    // same patch applied again merges into it by that key.
    const declared = declaredKey(def, path);
    return patch.flatMap((item, i) => {
      if (isPlainObject(item) && item.$patch === "delete") {
        throw new MergeError(
          `${[...path, i].join(".")}: '$patch: delete' needs a list whose items have a key`,
        );
      }
      if (declared) requireKey(item, declared, path, i);
      const merged = merge(def, undefined, item, [...path, String(i)]);
      return merged === DELETE ? [] : [merged];
    });
  }
  const out = [...base];
  patch.forEach((item, i) => {
    requireKey(item, key, path, i);
    const at = out.findIndex((b) => isPlainObject(b) && b[key] === item[key]);
    const merged = merge(def, at < 0 ? undefined : out[at], item, [...path, String(i)]);
    if (merged === DELETE) {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = merged;
    else out.push(merged);
  });
  return out;
}

/**
 * Merges `patch` into `base`: mappings merge key by key, `$patch: delete` removes, `$patch:
 * replace` replaces a whole mapping, lists of keyed objects merge by key, other values replace.
 */
function merge(def: KindDefinition, base: unknown, patch: unknown, path: string[]): unknown {
  if (Array.isArray(patch))
    return mergeList(
      def,
      base,
      patch,
      path.filter((p) => !/^\d+$/.test(p)),
    );
  if (!isPlainObject(patch)) return patch;
  const directive = getOwn(patch, "$patch");
  if (directive === "delete") return DELETE;
  if (directive !== undefined && directive !== "replace") {
    throw new MergeError(
      `${path.join(".") || "(document)"}: unknown $patch ${showValue(directive)}, expected delete or replace`,
    );
  }
  const out: PlainObject = {};
  if (isPlainObject(base) && directive === undefined) {
    for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch") continue;
    const merged = merge(def, getOwn(out, k), v, [...path, k]);
    if (merged === DELETE) delete out[k];
    else setOwn(out, k, merged);
  }
  return out;
}

function fail(index: number, kind: unknown, message: string): never {
  const what = typeof kind === "string" ? kind : "?";
  throw new PlinthError("invalid_argument", `patch document ${index + 1} (${what}): ${message}`, {
    details: { document: index + 1 },
  });
}

/**
 * Applies strategic merge patch documents in order. Each names its target by `kind` (and `name`
 * for repeatable kinds); a target that does not exist is added; `$patch: delete` at the top
 * removes it (and does nothing when it is absent).
 */
export function applyStrategicPatch(
  documents: readonly unknown[],
  patchDocuments: readonly unknown[],
): unknown[] {
  let docs = [...documents];
  patchDocuments.forEach((patch, index) => {
    if (!isPlainObject(patch)) fail(index, undefined, `expected a mapping, got ${showValue(patch)}`);
    const kind = getOwn(patch, "kind");
    const def = typeof kind === "string" ? findKind(kind) : undefined;
    if (!def) fail(index, kind, `'kind' must be one of ${kindNames.join(", ")}, got ${showValue(kind)}`);
    const version = getOwn(patch, "apiVersion");
    if (version !== undefined && version !== apiVersion) {
      fail(index, kind, `'apiVersion' must be ${apiVersion}, got ${showValue(version)}`);
    }
    const name = getOwn(patch, "name");
    if (def.repeatable && typeof name !== "string") {
      fail(
        index,
        kind,
        name === undefined
          ? `'name' is required to pick one of the ${def.kind} documents`
          : `'name' must be a string, got ${showValue(name)}`,
      );
    }
    const at = docs.findIndex(
      (d) => isPlainObject(d) && d.kind === def.kind && (!def.repeatable || d.name === name),
    );
    let merged: unknown;
    try {
      merged = merge(def, at < 0 ? undefined : docs[at], patch, []);
    } catch (err) {
      if (err instanceof MergeError) fail(index, kind, err.message);
      throw err;
    }
    if (merged === DELETE) {
      if (at >= 0) docs = docs.filter((_, i) => i !== at);
      return;
    }
    const doc = merged as PlainObject;
    if (!Object.hasOwn(doc, "apiVersion")) {
      const withVersion: PlainObject = {};
      setOwn(withVersion, "apiVersion", apiVersion);
      for (const [k, v] of Object.entries(doc)) setOwn(withVersion, k, v);
      merged = withVersion;
    }
    if (at >= 0) docs[at] = merged;
    else docs.push(merged);
  });
  return docs;
}
