import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";

export const fileOps = ["create", "overwrite", "append"] as const;

/** A file the config asks for; id = `idFromText(path)`. */
export const FileSpec = defineResource({
  type: "FileSpec",
  namespace: "runtime",
  aliases: ["filespecs"],
  printColumns: [
    { name: "Path", path: "path" },
    { name: "Op", path: "op" },
    { name: "Mode", path: "mode" },
  ],
  schema: z.strictObject({
    path: z.string(),
    content: z.string(),
    mode: z.number().int().min(0).max(0o7777),
    op: z.enum(fileOps),
  }),
});

/** A file Plinth writes, as observed. */
export const FileStatus = defineResource({
  type: "FileStatus",
  namespace: "runtime",
  aliases: ["file", "files", "filestatuses"],
  printColumns: [
    { name: "Path", path: "path" },
    { name: "Op", path: "op" },
    { name: "SHA256", path: "sha256" },
    { name: "Error", path: "error" },
  ],
  schema: z.strictObject({
    path: z.string(),
    op: z.enum(fileOps),
    exists: z.boolean(),
    /** Permission bits as observed. */
    mode: z.number().int().optional(),
    size: z.number().int().nonnegative().optional(),
    sha256: z.string().optional(),
    /** The file did not exist before Plinth wrote it: it is removed with its spec. */
    createdByPlinth: z.boolean(),
    /**
     * Where the content the file had before Plinth first overwrote it is kept (on the host, readable
     * by root only): written back, with `originalMode`, when the spec goes away.
     */
    backup: z.string().optional(),
    originalMode: z.number().int().optional(),
    /** What Plinth appended to a file that existed before: taken off its end when the spec goes away. */
    appended: z.strictObject({ length: z.number().int().nonnegative(), sha256: z.string() }).optional(),
    /** Hash of the spec last applied without error: a later difference under the same spec is drift. */
    specHash: z.string().optional(),
    error: z.string().optional(),
  }),
});
