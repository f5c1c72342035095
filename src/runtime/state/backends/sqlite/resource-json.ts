import { PlinthError } from "../../../../errors/plinth-error.ts";
import type { AnyResource, Metadata } from "../../../resource/resource.ts";
import { formatPointer } from "../../../resource/resource.ts";

// Resources are stored as JSON text. Specs are JSON data already (the write rules copy them as
// JSON); the metadata is checked on the way in with the same rules as on the way out, so a
// write is refused rather than stored in a form that would stop the database from opening.

const isString = (v: unknown): v is string => typeof v === "string";
const isStringMap = (v: unknown): boolean =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(isString);

/** Why stored metadata is not well formed, or undefined when it is. */
function metadataProblem(md: Partial<Record<keyof Metadata, unknown>>): string | undefined {
  for (const field of ["namespace", "type", "id", "owner", "created", "updated"] as const) {
    if (!isString(md[field])) return `metadata.${field} is not a string`;
  }
  if (!Number.isSafeInteger(md.version) || (md.version as number) < 1) return "metadata.version is not >= 1";
  if (md.phase !== "running" && md.phase !== "tearingDown") return "metadata.phase is unknown";
  if (!Array.isArray(md.finalizers) || !md.finalizers.every(isString)) {
    return "metadata.finalizers is not a list of strings";
  }
  if (!isStringMap(md.labels)) return "metadata.labels is not a string map";
  if (!isStringMap(md.annotations)) return "metadata.annotations is not a string map";
  return undefined;
}

/** The stored text of a resource; invalid_argument when it could not be read back. */
export function encodeResource(resource: AnyResource): string {
  const problem = metadataProblem(resource.metadata);
  if (problem) {
    throw new PlinthError("invalid_argument", `cannot store ${formatPointer(resource.metadata)}: ${problem}`);
  }
  return JSON.stringify(resource);
}

/**
 * Reads a stored resource back; throws a plain Error saying what is wrong when the text is not
 * a well-formed resource stored under `key`.
 */
export function decodeResource(
  text: string,
  key: { namespace: string; type: string; id: string },
): AnyResource {
  const value = JSON.parse(text) as { metadata?: unknown; spec?: unknown };
  if (typeof value !== "object" || value === null || typeof value.metadata !== "object" || !value.metadata) {
    throw new Error("it has no metadata");
  }
  const md = value.metadata as Metadata;
  const problem = metadataProblem(md);
  if (problem) throw new Error(problem);
  if (md.namespace !== key.namespace || md.type !== key.type || md.id !== key.id) {
    throw new Error(`it holds ${formatPointer(md)}`);
  }
  return { metadata: md, spec: value.spec };
}
