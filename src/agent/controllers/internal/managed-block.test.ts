import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockLines, withBlock } from "./managed-block.ts";

describe("managed block", () => {
  const user = "127.0.0.1 localhost\n::1 localhost\n";

  it("is added at the top, replaced in place and removed, leaving the user's lines as they were", () => {
    const added = withBlock(user, ["10.0.0.1 a"], "why");
    assert.equal(added, `# BEGIN PLINTH MANAGED BLOCK: why\n10.0.0.1 a\n# END PLINTH MANAGED BLOCK\n${user}`);
    assert.deepEqual(blockLines(added), ["10.0.0.1 a"]);
    const moved = `${user}${added.slice(0, added.indexOf(user))}# after\n`;
    const replaced = withBlock(moved, ["10.0.0.2 b", "10.0.0.3 c"], "why");
    assert.equal(
      replaced,
      `${user}# BEGIN PLINTH MANAGED BLOCK: why\n10.0.0.2 b\n10.0.0.3 c\n# END PLINTH MANAGED BLOCK\n# after\n`,
    );
    assert.equal(withBlock(replaced, undefined, "why"), `${user}# after\n`);
  });

  it("handles a missing file, a file without a final newline and an empty block", () => {
    assert.equal(blockLines(undefined), undefined);
    assert.equal(
      withBlock(undefined, ["x"], "w"),
      "# BEGIN PLINTH MANAGED BLOCK: w\nx\n# END PLINTH MANAGED BLOCK\n",
    );
    assert.equal(
      withBlock("tail", ["x"], "w"),
      "# BEGIN PLINTH MANAGED BLOCK: w\nx\n# END PLINTH MANAGED BLOCK\ntail\n",
    );
    assert.deepEqual(blockLines(withBlock(user, [], "w")), []);
  });

  it("does not take half a block for a block", () => {
    assert.equal(blockLines("# BEGIN PLINTH MANAGED BLOCK: w\nx\n"), undefined);
    assert.equal(blockLines("# END PLINTH MANAGED BLOCK\n# BEGIN PLINTH MANAGED BLOCK\n"), undefined);
  });
});
