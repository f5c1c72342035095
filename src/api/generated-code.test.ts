import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const committed = join(root, "src", "api", "gen");

async function tree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path, "utf8"));
  }
  return files;
}

describe("generated protobuf code", () => {
  it("matches a fresh generation from proto/ (run 'npm run generate' when this fails)", async () => {
    const out = await mkdtemp(join(tmpdir(), "plinth-gen-"));
    try {
      const result = spawnSync(process.execPath, [join(root, "scripts", "gen-proto.ts"), "--out", out], {
        cwd: root,
        encoding: "utf8",
      });
      assert.equal(result.status, 0, `generation failed:\n${result.stderr}`);
      const fresh = await tree(join(out, "src", "api", "gen"));
      const current = await tree(committed);
      assert.ok(fresh.size > 0, "generation produced no files");
      assert.deepEqual([...current.keys()].sort(), [...fresh.keys()].sort(), "generated file lists differ");
      for (const [path, text] of fresh) {
        assert.ok(current.get(path) === text, `src/api/gen/${path} is stale`);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
