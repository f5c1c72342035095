// The small part of ASN.1 DER that X.509 certificates need: writing the fields of a certificate
// Plinth issues, and reading names and extensions back. Node's crypto parses and verifies
// certificates but cannot write them; this keeps a full ASN.1 library out of the agent's start-up.

/** A DER element: tag byte, then length, then content. */
export function derElement(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else {
    const lengthBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lengthBytes.unshift(v & 0xff);
    header = [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  }
  const out = new Uint8Array(header.length + n);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const derSequence = (...parts: Uint8Array[]) => derElement(0x30, concatBytes(parts));
/** A SET in the order given (X.509 names keep their attribute order, as the certificate lists them). */
export const derSet = (...parts: Uint8Array[]) => derElement(0x31, concatBytes(parts));
export const derOctetString = (bytes: Uint8Array) => derElement(0x04, bytes);
export const derBoolean = (value: boolean) => derElement(0x01, Uint8Array.of(value ? 0xff : 0));
/** An explicitly tagged field: `[n] { inner }`. */
export const derExplicit = (n: number, inner: Uint8Array) => derElement(0xa0 | n, inner);
/** A context-specific primitive field (`[n] IMPLICIT`), as in GeneralName. */
export const derImplicit = (n: number, content: Uint8Array) => derElement(0x80 | n, content);

/** A BIT STRING; `unusedBits` of the last byte are padding (KeyUsage sets them). */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return derElement(0x03, concatBytes([Uint8Array.of(unusedBits), bytes]));
}

/** A positive INTEGER from its big-endian magnitude (a serial number). */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return derElement(0x02, trimmed[0]! & 0x80 ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed);
}

export const derSmallInteger = (n: number) => derElement(0x02, Uint8Array.of(n));

export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const bytes: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return derElement(0x06, Uint8Array.from(bytes));
}

const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string: PrintableString when its characters allow, UTF8String otherwise. */
export function derDirectoryString(value: string): Uint8Array {
  return derElement(printable.test(value) ? 0x13 : 0x0c, new TextEncoder().encode(value));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), to the second. */
export function derTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  return year < 2050
    ? derElement(0x17, new TextEncoder().encode(digits.slice(2)))
    : derElement(0x18, new TextEncoder().encode(digits));
}

/** One element read from DER: its tag, and where its content lies in the buffer. */
export interface DerNode {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the element at `offset`; throws a TypeError when the bytes are not DER. */
export function readDer(bytes: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > bytes.length) throw new TypeError("DER: truncated element");
  const tag = bytes[offset]!;
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > bytes.length)
      throw new TypeError("DER: bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > bytes.length) throw new TypeError("DER: element runs past the end");
  return { tag, start: offset, contentStart, end };
}

/** The elements inside a constructed element (SEQUENCE, SET, explicit tag). */
export function derChildren(bytes: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let at = node.contentStart; at < node.end; ) {
    const child = readDer(bytes, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

export const derContent = (bytes: Uint8Array, node: DerNode) => bytes.subarray(node.contentStart, node.end);
export const derWhole = (bytes: Uint8Array, node: DerNode) => bytes.subarray(node.start, node.end);

export function readOid(bytes: Uint8Array, node: DerNode): string {
  const c = derContent(bytes, node);
  const arcs = [Math.floor(c[0]! / 40), c[0]! % 40];
  let v = 0;
  for (const b of c.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}
