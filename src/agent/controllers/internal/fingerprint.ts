/**
 * A short, stable hash of a JSON value (FNV-1a, 32 bits), for telling whether a status was
 * written for the spec at hand. Not for security.
 */
export function fingerprint(value: unknown): string {
  const text = JSON.stringify(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** The object without its undefined fields: specs are compared and stored as JSON. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The message of a thrown value, for a status's `error`. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
