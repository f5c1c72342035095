import { fromBase64, toBase64 } from "./encoding.ts";

/** One block of a PEM text: its label (`CERTIFICATE`, `PRIVATE KEY`) and DER bytes. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export function encodePem(label: string, der: Uint8Array | ArrayBuffer): string {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  const body = toBase64(bytes).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Every well-formed block in `text`, in order; malformed base64 inside a block is skipped. */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(blockPattern)) {
    const der = fromBase64(match[2] ?? "");
    if (der && der.length > 0) blocks.push({ label: match[1] ?? "", der });
  }
  return blocks;
}

/**
 * The DER bytes of the single block labelled `label`; throws a TypeError naming the label when
 * the text holds no such block or more than one.
 */
export function decodePem(text: string, label: string): Uint8Array {
  const found = decodePemBlocks(text).filter((b) => b.label === label);
  if (found.length !== 1) {
    throw new TypeError(
      `Cannot decode PEM: expected exactly one '${label}' block, found ${found.length}` +
        (text.length < 40 ? `, current value is ${JSON.stringify(text)}` : ""),
    );
  }
  return found[0]!.der;
}
