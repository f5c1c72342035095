import { PlinthError } from "../../errors/plinth-error.ts";
import { apiVersion } from "../fields.ts";
import { findKind, kindNames } from "../kinds/index.ts";
import { isPlainObject, type PlainObject, setOwn } from "./plain-object.ts";

/**
 * A config seen as one JSON value, so that RFC 6902 paths select a document by kind (and name
 * where a kind repeats): `/Hostname/hostname`, `/Link/eth0/mtu`, `/Service/web`.
 */
export function documentsToView(documents: readonly unknown[]): PlainObject {
  const view: PlainObject = {};
  for (const doc of documents) {
    if (!isPlainObject(doc) || typeof doc.kind !== "string") {
      throw new PlinthError("invalid_argument", "cannot patch a config with a document that has no kind");
    }
    const def = findKind(doc.kind);
    if (def?.repeatable) {
      if (!Object.hasOwn(view, doc.kind)) setOwn(view, doc.kind, {});
      setOwn(view[doc.kind] as PlainObject, String(doc.name), doc);
    } else {
      setOwn(view, doc.kind, doc);
    }
  }
  return view;
}

function identityOf(doc: unknown): string {
  if (!isPlainObject(doc)) return "";
  return `${String(doc.kind)}\0${findKind(String(doc.kind))?.repeatable ? String(doc.name) : ""}`;
}

function fill(kind: string, name: string | undefined, doc: unknown, at: string): PlainObject {
  if (!isPlainObject(doc)) {
    throw new PlinthError("invalid_argument", `${at}: a document must be a mapping`);
  }
  if (doc.kind !== undefined && doc.kind !== kind) {
    throw new PlinthError(
      "invalid_argument",
      `${at}: kind is ${JSON.stringify(doc.kind)} but the path says ${kind}`,
    );
  }
  if (name !== undefined && doc.name !== undefined && doc.name !== name) {
    throw new PlinthError(
      "invalid_argument",
      `${at}: name is ${JSON.stringify(doc.name)} but the path says ${name}`,
    );
  }
  const out: PlainObject = {};
  setOwn(out, "apiVersion", doc.apiVersion ?? apiVersion);
  setOwn(out, "kind", kind);
  if (name !== undefined) setOwn(out, "name", name);
  for (const [key, value] of Object.entries(doc)) setOwn(out, key, value);
  return out;
}

/**
 * Back from the view to documents: those that were there keep their order, new ones follow.
 * Missing `apiVersion`, `kind` and `name` of added documents are filled in from the path.
 */
export function viewToDocuments(view: unknown, original: readonly unknown[]): unknown[] {
  if (!isPlainObject(view))
    throw new PlinthError("invalid_argument", "the patched config must be a mapping of kinds");
  const docs: unknown[] = [];
  for (const [kind, entry] of Object.entries(view)) {
    const def = findKind(kind);
    if (!def) {
      throw new PlinthError(
        "invalid_argument",
        `/${kind}: unknown kind, expected one of ${kindNames.join(", ")}`,
      );
    }
    if (!def.repeatable) {
      docs.push(fill(kind, undefined, entry, `/${kind}`));
      continue;
    }
    if (!isPlainObject(entry)) {
      throw new PlinthError("invalid_argument", `/${kind}: expected a mapping of ${kind} documents by name`);
    }
    for (const [name, doc] of Object.entries(entry)) docs.push(fill(kind, name, doc, `/${kind}/${name}`));
  }
  const order = new Map(original.map((d, i) => [identityOf(d), i]));
  const rank = (d: unknown) => order.get(identityOf(d)) ?? Number.MAX_SAFE_INTEGER;
  return docs
    .map((d, i) => ({ d, i }))
    .sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i)
    .map((x) => x.d);
}
