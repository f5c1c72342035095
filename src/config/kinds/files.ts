import { z } from "zod";
import { absolutePath, fileMode } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const fileOps = ["create", "overwrite", "append"] as const;

export const Files = defineKind({
  kind: "Files",
  description:
    "Files the agent writes. `create` writes only when the file is missing, `overwrite` keeps it equal to " +
    "`content`, `append` makes sure `content` is at its end.",
  fields: {
    files: z
      .array(
        z.strictObject({
          path: absolutePath().describe("absolute path of the file"),
          content: z.string().default("").describe("the file's content"),
          mode: fileMode().default(0o644).describe('permission bits: 0o644, 420 or "0644"'),
          op: z.enum(fileOps).default("overwrite").describe("create | overwrite | append"),
        }),
      )
      .describe("the files"),
  },
  listKeys: { files: "path" },
  check(doc, ctx) {
    const seen = new Set<string>();
    doc.files.forEach((f, i) => {
      if (seen.has(f.path)) addIssue(ctx, ["files", i, "path"], `duplicate file ${f.path}`);
      seen.add(f.path);
    });
  },
  example: `apiVersion: v1alpha1
kind: Files
files:
  - path: /etc/motd
    content: "managed by plinth\\n"
    mode: 0o644           # also accepts 420 or "0644"
    op: overwrite
`,
});
