import { z } from "zod";
import { PlinthError } from "../../errors/plinth-error.ts";
import { configError } from "../config-issue.ts";
import { parseConfigText } from "../parse-config-text.ts";
import { describeZodIssue, toConfigIssues } from "../zod-issues.ts";
import { documentsToView, viewToDocuments } from "./document-view.ts";
import { applyJsonPatch, type JsonPatchOperation } from "./json-patch.ts";
import { isPlainObject } from "./plain-object.ts";
import { applyStrategicPatch } from "./strategic-merge.ts";

/** A parsed patch: strategic merge documents, or an RFC 6902 operation list. */
export type ConfigPatch =
  | { readonly type: "strategic"; readonly source: string; readonly documents: readonly unknown[] }
  | { readonly type: "json"; readonly source: string; readonly operations: readonly JsonPatchOperation[] };

const operationSchema = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal(["add", "replace", "test"]), path: z.string(), value: z.unknown() }),
  z.strictObject({ op: z.literal("remove"), path: z.string() }),
  z.strictObject({ op: z.literal(["move", "copy"]), path: z.string(), from: z.string() }),
]);

/**
 * Reads a patch from YAML or JSON text: one list of operations is an RFC 6902 patch; mapping
 * documents are strategic merge patches. Throws invalid_argument naming `source` and the place.
 */
export function parsePatch(text: string, source = "patch"): ConfigPatch {
  const parsed = parseConfigText(text);
  if (parsed.issues.length > 0) throw configError(parsed.issues, source);
  const values = parsed.documents.map((d) => d.value);
  if (values.length === 0) throw new PlinthError("invalid_argument", `${source}: the patch is empty`);
  if (values.length === 1 && Array.isArray(values[0])) {
    const ops = values[0] as unknown[];
    const operations = ops.map((op, i) => {
      const result = operationSchema.safeParse(op, { reportInput: true, error: describeZodIssue });
      if (!result.success) {
        const issue = toConfigIssues(result.error.issues, { document: 1 })[0]!;
        const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
        throw new PlinthError(
          "invalid_argument",
          `${source}: operation ${i + 1}: ${where}${issue.message}` +
            `${isPlainObject(op) ? "" : " (each operation is a mapping with op and path)"}`,
        );
      }
      return result.data as JsonPatchOperation;
    });
    return { type: "json", source, operations };
  }
  const notMapping = parsed.documents.find((d) => !isPlainObject(d.value));
  if (notMapping) {
    throw new PlinthError(
      "invalid_argument",
      `${source}: document ${notMapping.document}: expected a mapping (a strategic merge patch) or a single list of JSON patch operations`,
    );
  }
  return { type: "strategic", source, documents: values };
}

/** Applies one patch to plain documents; errors are prefixed by the patch's source. */
export function applyPatch(documents: readonly unknown[], patch: ConfigPatch): unknown[] {
  try {
    if (patch.type === "strategic") return applyStrategicPatch(documents, patch.documents);
    return viewToDocuments(applyJsonPatch(documentsToView(documents), patch.operations), documents);
  } catch (err) {
    if (err instanceof PlinthError) {
      throw new PlinthError(err.code, `${patch.source}: ${err.message}`, {
        cause: err,
        details: err.details,
      });
    }
    throw err;
  }
}

/** Applies patches in order. */
export function applyPatches(documents: readonly unknown[], patches: readonly ConfigPatch[]): unknown[] {
  return patches.reduce<unknown[]>((docs, patch) => applyPatch(docs, patch), [...documents]);
}
