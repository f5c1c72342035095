import { PlinthError } from "../errors/plinth-error.ts";

/**
 * The small part of the POSIX ustar format an agent bundle needs: regular files only, paths
 * relative and free of `..`. Written and read here rather than with the system's tar, so that a
 * bundle from the network is checked entry by entry before anything reaches the disk.
 */
export interface TarEntry {
  /** Relative path with "/" separators. */
  readonly path: string;
  readonly data: Uint8Array;
  /** Permission bits (0o644, 0o755). */
  readonly mode: number;
}

const block = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A bundle path must stay inside the directory it is unpacked into. */
export function checkEntryPath(path: string): void {
  const bad =
    path === "" ||
    path.startsWith("/") ||
    path.includes("\\") ||
    path.includes("\0") ||
    path.split("/").some((p) => p === "" || p === "." || p === "..");
  if (bad) {
    throw new PlinthError(
      "invalid_argument",
      `bundle entry '${path}' is not a relative path inside the bundle (no leading /, no '.' or '..' parts)`,
    );
  }
}

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new PlinthError("invalid_argument", `tar field too long: '${value}'`);
  header.set(bytes, offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

/** ustar keeps 100 bytes of name and 155 of prefix: split a longer path at a "/". */
function splitPath(path: string): { name: string; prefix: string } {
  if (encoder.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(name).length <= 100 && encoder.encode(prefix).length <= 155) return { name, prefix };
  }
  throw new PlinthError("invalid_argument", `bundle path too long for a tar archive: '${path}'`);
}

function header(entry: TarEntry): Uint8Array {
  const h = new Uint8Array(block);
  const { name, prefix } = splitPath(entry.path);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, entry.mode & 0o7777);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, entry.data.length);
  writeOctal(h, 136, 12, 0);
  h.fill(0x20, 148, 156); // checksum counted as spaces
  h[156] = 0x30; // "0": regular file
  writeString(h, 257, 6, "ustar\0");
  writeString(h, 263, 2, "00");
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

/** The archive of `entries`, in their order. */
export function packTar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    checkEntryPath(e.path);
    parts.push(header(e), e.data);
    const pad = (block - (e.data.length % block)) % block;
    if (pad > 0) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(block * 2));
  return Buffer.concat(parts);
}

function readString(buf: Uint8Array, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

function readOctal(buf: Uint8Array, offset: number, length: number, what: string): number {
  const text = readString(buf, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new PlinthError("invalid_argument", `bundle: bad tar ${what} '${text}'`);
  return text === "" ? 0 : Number.parseInt(text, 8);
}

/**
 * The regular files of an archive. Directories are skipped (they follow from the paths); any
 * other entry type (links, devices) is refused, as is a damaged header.
 */
export function unpackTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  while (offset + block <= archive.length) {
    const h = archive.subarray(offset, offset + block);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (readOctal(h, 148, 8, "checksum") !== sum) {
      throw new PlinthError("invalid_argument", `bundle: damaged tar header at byte ${offset}`);
    }
    const name = readString(h, 0, 100);
    const prefix = readString(h, 345, 155);
    const path = prefix ? `${prefix}/${name}` : name;
    const size = readOctal(h, 124, 12, "size");
    const type = String.fromCharCode(h[156]!);
    offset += block;
    if (offset + size > archive.length)
      throw new PlinthError("invalid_argument", `bundle: '${path}' is cut short`);
    if (type === "0" || type === "\0") {
      checkEntryPath(path);
      entries.push({ path, data: archive.slice(offset, offset + size), mode: readOctal(h, 100, 8, "mode") });
    } else if (type !== "5") {
      throw new PlinthError(
        "invalid_argument",
        `bundle: entry '${path}' has tar type '${type}'; a bundle holds regular files only`,
      );
    }
    offset += Math.ceil(size / block) * block;
  }
  return entries;
}
