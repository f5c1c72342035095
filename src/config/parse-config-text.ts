import { isMap, isSeq, LineCounter, parseAllDocuments } from "yaml";
import type { ConfigIssue, IssuePath } from "./config-issue.ts";

/** One YAML document as plain data, with its position and a way back to its lines. */
export interface RawDocument {
  /** 1-based position in the text, counting empty documents too. */
  readonly document: number;
  readonly value: unknown;
  /** The line of the deepest node along `path` that exists, when the value came from text. */
  readonly lineOf?: (path: IssuePath) => number | undefined;
}

export interface ParsedText {
  readonly documents: RawDocument[];
  readonly issues: ConfigIssue[];
}

/** Aliases expanding beyond this are refused (the "billion laughs" document). */
const maxAliasCount = 100;

/**
 * Splits multi-document YAML into plain values, skipping empty documents. Syntax errors become
 * issues with their line; this never throws for any input text.
 */
export function parseConfigText(text: string): ParsedText {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const documents: RawDocument[] = [];
  const issues: ConfigIssue[] = [];
  docs.forEach((doc, i) => {
    const document = i + 1;
    const lineAt = (offset: number | undefined) =>
      offset === undefined ? undefined : lineCounter.linePos(offset).line;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        issues.push({
          document,
          path: [],
          message: `YAML: ${err.message.split("\n")[0]}`,
          line: lineAt(err.pos[0]),
        });
      }
      return;
    }
    if (doc.contents === null) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (err) {
      issues.push({
        document,
        path: [],
        message: `YAML: ${(err as Error).message}`,
        line: lineAt(doc.range[0]),
      });
      return;
    }
    if (value === null || value === undefined) return;
    const lineOf = (path: IssuePath): number | undefined => {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node && typeof node === "object" && node.range) return lineAt(node.range[0]);
        if (n === 0 && (isMap(doc.contents) || isSeq(doc.contents))) return lineAt(doc.contents.range?.[0]);
      }
      return undefined;
    };
    documents.push({ document, value, lineOf });
  });
  return { documents, issues };
}
