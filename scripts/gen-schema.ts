// Regenerates docs/schema/<Kind>.json and the document-kinds section of docs/config.md from the
// zod schemas in src/config/kinds. A test fails when the checked-in files differ from this output.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderSchemaFiles } from "../src/config/schema/json-schemas.ts";
import { renderKindDocs, replaceGeneratedSection } from "../src/config/schema/kind-docs.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

for (const [path, content] of renderSchemaFiles()) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}

const docsPath = join(root, "docs/config.md");
await writeFile(docsPath, replaceGeneratedSection(await readFile(docsPath, "utf8"), renderKindDocs()));
process.stdout.write("updated docs/config.md\n");
