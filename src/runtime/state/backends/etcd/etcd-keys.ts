import type { Kind, Pointer } from "../../../resource/resource.ts";

// Key layout: `${prefix}/${namespace}/${type}/${id}` holds a resource as JSON. Namespaces, types
// and ids never contain '/', so one kind's keys are exactly those under `${prefix}/${ns}/${type}/`.
//
// The kind prefix itself (the key with an empty id, which no resource can have) is the kind's
// change marker: every write puts it, as the last operation of the write's transaction, so its
// mod_revision is the revision of the kind's latest change. A history read uses it to know when
// it has seen every past event of the kind (see etcd-watch.ts).

export interface KeyRange {
  readonly key: Buffer;
  /** Absent for a single key. */
  readonly rangeEnd?: Buffer;
}

export interface EtcdKeys {
  kindPrefix(kind: Kind): string;
  resourceKey(ptr: Pointer): string;
  markerKey(kind: Kind): string;
  kindRange(kind: Kind): KeyRange;
  resourceRange(ptr: Pointer): KeyRange;
  /** The id a key of `kind` holds: "" for the marker, undefined for a key of another kind. */
  idOf(kind: Kind, key: Buffer): string | undefined;
}

/** The first key after every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: every key after it; etcd reads "\0" as "no upper bound".
  return Buffer.from([0]);
}

export function etcdKeys(prefix: string): EtcdKeys {
  const kindPrefix = (k: Kind) => `${prefix}/${k.namespace}/${k.type}/`;
  return {
    kindPrefix,
    resourceKey: (p) => `${kindPrefix(p)}${p.id}`,
    markerKey: kindPrefix,
    kindRange(kind) {
      const key = Buffer.from(kindPrefix(kind));
      return { key, rangeEnd: prefixEnd(key) };
    },
    resourceRange: (p) => ({ key: Buffer.from(`${kindPrefix(p)}${p.id}`) }),
    idOf(kind, key) {
      const text = key.toString("utf8");
      const start = kindPrefix(kind);
      return text.startsWith(start) ? text.slice(start.length) : undefined;
    },
  };
}
