import { PlinthError } from "../../errors/plinth-error.ts";
import { deepEqual, getOwn, isPlainObject, type PlainObject, setOwn } from "./plain-object.ts";

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  readonly op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  readonly path: string;
  readonly from?: string;
  readonly value?: unknown;
}

/** RFC 6901: "" is the whole value, `/a/b` descends, `~1` is `/` and `~0` is `~`. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/"))
    throw new TypeError(`a JSON pointer starts with '/', got ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new TypeError(`bad escape in JSON pointer ${JSON.stringify(pointer)}`);
      return t.replace(/~1/g, "/").replace(/~0/g, "~");
    });
}

function arrayIndex(list: unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === "-") return list.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new TypeError(`'${token}' is not a list index`);
  const index = Number(token);
  if (index > list.length || (!forAdd && index === list.length)) {
    throw new TypeError(`index ${index} is out of range (the list has ${list.length} items)`);
  }
  return index;
}

/** The container holding the last token of `tokens`, walking from `root`. */
function parentOf(root: unknown, tokens: readonly string[]): unknown {
  let node = root;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, false)];
    else if (isPlainObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw new TypeError(`path not found: no '${token}'`);
  }
  return node;
}

function get(root: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) return root;
  const parent = parentOf(root, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (isPlainObject(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw new TypeError(`path not found: no '${last}'`);
}

interface Holder {
  root: unknown;
}

function add(holder: Holder, tokens: readonly string[], value: unknown): void {
  if (tokens.length === 0) {
    holder.root = value;
    return;
  }
  const parent = parentOf(holder.root, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else if (isPlainObject(parent)) setOwn(parent, last, value);
  else throw new TypeError(`cannot add '${last}' to a value that is neither a mapping nor a list`);
}

function remove(holder: Holder, tokens: readonly string[]): unknown {
  if (tokens.length === 0) throw new TypeError("cannot remove the whole document");
  const parent = parentOf(holder.root, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false), 1)[0];
  if (isPlainObject(parent) && Object.hasOwn(parent, last)) {
    const value = getOwn(parent, last);
    delete (parent as PlainObject)[last];
    return value;
  }
  throw new TypeError(`path not found: no '${last}'`);
}

function applyOne(holder: Holder, op: JsonPatchOperation): void {
  const tokens = parsePointer(op.path);
  switch (op.op) {
    case "add":
      add(holder, tokens, structuredClone(op.value));
      return;
    case "remove":
      remove(holder, tokens);
      return;
    case "replace":
      get(holder.root, tokens);
      if (tokens.length === 0) holder.root = structuredClone(op.value);
      else {
        remove(holder, tokens);
        add(holder, tokens, structuredClone(op.value));
      }
      return;
    case "move": {
      const from = parsePointer(op.from ?? "");
      if (op.path.startsWith(`${op.from}/`)) throw new TypeError("cannot move a value into itself");
      const value = get(holder.root, from);
      remove(holder, from);
      add(holder, tokens, value);
      return;
    }
    case "copy":
      add(holder, tokens, structuredClone(get(holder.root, parsePointer(op.from ?? ""))));
      return;
    case "test":
      if (!deepEqual(get(holder.root, tokens), op.value))
        throw new TypeError("test failed: the value differs");
      return;
    default:
      throw new TypeError(`unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}

/** `operation 2 (replace /Hostname/hostname)` */
export function describeOperation(index: number, op: JsonPatchOperation): string {
  return `operation ${index + 1} (${op.op} ${op.path === "" ? '""' : op.path})`;
}

/**
 * Applies RFC 6902 operations to a copy of `target`, all or nothing. A failing operation throws
 * invalid_argument naming the operation and what went wrong.
 */
export function applyJsonPatch(target: unknown, operations: readonly JsonPatchOperation[]): unknown {
  const holder: Holder = { root: structuredClone(target) };
  operations.forEach((op, i) => {
    try {
      applyOne(holder, op);
    } catch (err) {
      throw new PlinthError("invalid_argument", `${describeOperation(i, op)}: ${(err as Error).message}`, {
        cause: err,
        details: { operation: i + 1 },
      });
    }
  });
  return holder.root;
}
