import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { renderSchemaFiles } from "./json-schemas.ts";
import { docsBegin, docsEnd, renderKindDocs } from "./kind-docs.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const hint = "run 'node scripts/gen-schema.ts' and commit the result";

describe("generated schema and docs", () => {
  it("docs/schema holds exactly the JSON Schema of every kind, up to date", async () => {
    const expected = renderSchemaFiles();
    const onDisk = (await readdir(`${root}docs/schema`)).map((f) => `docs/schema/${f}`).sort();
    assert.deepEqual(onDisk, [...expected.keys()].sort(), hint);
    for (const [path, content] of expected) {
      assert.equal(await readFile(`${root}${path}`, "utf8"), content, `${path} is stale: ${hint}`);
    }
  });

  it("docs/config.md documents every kind from the schemas, up to date", async () => {
    const markdown = await readFile(`${root}docs/config.md`, "utf8");
    const start = markdown.indexOf(docsBegin);
    const end = markdown.indexOf(docsEnd);
    assert.ok(start >= 0 && end > start, "docs/config.md lost its generated-section markers");
    assert.equal(
      markdown.slice(start, end + docsEnd.length),
      renderKindDocs(),
      `docs/config.md is stale: ${hint}`,
    );
  });
});
