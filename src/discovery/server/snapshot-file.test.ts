import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isPlinthError } from "../../errors/plinth-error.ts";
import { readSnapshot, writeSnapshot } from "./snapshot-file.ts";

describe("snapshot file", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-snapshot-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("round-trips every byte and expiry, replacing the previous snapshot and leaving no temporary file", async () => {
    const path = join(dir, "state.json");
    const contents = {
      clusters: [
        {
          id: "c\u00e9",
          affiliates: [
            {
              id: "a",
              data: new Uint8Array([0, 255, 7]),
              expiresAt: 1234,
              endpoints: [{ data: new Uint8Array(32).fill(9), expiresAt: 99 }],
            },
          ],
        },
      ],
    };
    await writeSnapshot(path, { clusters: [] });
    await writeSnapshot(path, contents);
    assert.deepEqual(await readSnapshot(path), contents);
    assert.deepEqual(await readdir(dir), ["state.json"]);
  });

  it("reads nothing when there is no snapshot yet", async () => {
    assert.equal(await readSnapshot(join(dir, "missing.json")), undefined);
  });

  it("refuses a file that is not a snapshot, naming it", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, "{ not json");
    await assert.rejects(
      readSnapshot(path),
      (err) => isPlinthError(err) && /bad\.json is not valid JSON/.test(err.message),
    );
    await writeFile(path, '{"format":"other","clusters":[]}');
    await assert.rejects(
      readSnapshot(path),
      (err) =>
        isPlinthError(err) &&
        /'format' must be 'plinth-discovery-snapshot\/v1', current value is "other"/.test(err.message),
    );
  });

  it("fails with a clear error when the directory does not exist", async () => {
    await assert.rejects(
      writeSnapshot(join(dir, "no", "such", "dir.json"), { clusters: [] }),
      (err) => isPlinthError(err) && err.code === "unavailable" && /cannot write snapshot/.test(err.message),
    );
  });
});
