import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { hasCode } from "../../../../errors/plinth-error.ts";
import { stateConformance } from "../../conformance/conformance.ts";
import { TestSpec } from "../../conformance/test-resources.ts";
import { readWatch } from "../../conformance/watch-reader.ts";
import { createSqliteState } from "./sqlite-state.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plinth-sqlite-"));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

stateConformance("sqlite", { create: async () => createSqliteState({ path: join(tempDir(), "state.db") }) });

const make = (id: string, count = 0) => TestSpec.make(id, { value: id, count });

/** Expects opening `path` to fail with failed_precondition, naming the path and the problem. */
function assertRefused(path: string, problem: RegExp): void {
  assert.throws(
    () => createSqliteState({ path }),
    (err: Error) => {
      assert.ok(hasCode(err, "failed_precondition"), `expected failed_precondition, got ${err}`);
      assert.ok(err.message.includes(path), `the message names the path: ${err.message}`);
      assert.match(err.message, problem);
      return true;
    },
  );
}

describe("sqlite state", () => {
  it("keeps resources and their versions across close and reopen", async () => {
    const path = join(tempDir(), "state.db");
    const first = createSqliteState({ path });
    await first.create(make("a"), { owner: "ctrl" });
    const b = await first.create(make("b"));
    await first.update({ ...b, spec: { value: "b", count: 7 } });
    const c = await first.create(make("c"), { owner: "ctrl" });
    await first.update({ ...c, metadata: { ...c.metadata, phase: "tearingDown" } }, { owner: "ctrl" });
    await first.destroy(TestSpec.ptr("c"), { owner: "ctrl" });
    const before = await first.list(TestSpec.kind());
    await first.close();

    const second = createSqliteState({ path });
    const reopened = await second.list(TestSpec.kind());
    assert.deepEqual(reopened, before);
    assert.deepEqual(
      reopened.map((r) => [r.metadata.id, r.metadata.version, r.metadata.owner]),
      [
        ["a", 1, "ctrl"],
        ["b", 2, ""],
      ],
    );
    const updated = await second.update({ ...reopened[1]!, spec: { value: "b", count: 8 } });
    assert.equal(updated.metadata.version, 3);
    await second.close();
  });

  it("bookmarks keep increasing after a reopen; older ones are history_lost", async () => {
    const path = join(tempDir(), "state.db");
    const first = createSqliteState({ path });
    const w = readWatch(first.watchKind(TestSpec.kind()));
    await first.create(make("a"));
    await first.create(make("b"));
    const [, last] = await w.take(2);
    await w.close();
    await first.close();

    const second = createSqliteState({ path });
    const boot = readWatch(second.watchKind(TestSpec.kind(), { bootstrapContents: true }));
    const events = await boot.take(3);
    assert.equal(events[2]?.type, "bootstrapped");
    assert.equal(events[2]?.bookmark, last?.bookmark, "the reopened state stands where it stopped");
    await second.create(make("c"));
    const created = await boot.next();
    assert.ok(BigInt(created.bookmark) > BigInt(last!.bookmark));
    await boot.close();
    const resumed = readWatch(second.watchKind(TestSpec.kind(), { startFromBookmark: last!.bookmark }));
    assert.equal((await resumed.next()).type, "created", "resumes from the last bookmark before the restart");
    await resumed.close();
    assert.throws(
      () => second.watchKind(TestSpec.kind(), { startFromBookmark: "1" }),
      (err) => hasCode(err, "history_lost"),
    );
    await second.close();
  });

  it("a second state on the same file is refused while the first holds it", async () => {
    const path = join(tempDir(), "state.db");
    const first = createSqliteState({ path });
    await first.create(make("a"));
    assert.throws(
      () => createSqliteState({ path }),
      (err: Error) => hasCode(err, "unavailable") && err.message.includes(path),
    );
    await first.create(make("b"));
    await first.close();
    const again = createSqliteState({ path });
    assert.equal((await again.list(TestSpec.kind())).length, 2);
    await again.close();
  });

  it("a write the database could not read back fails alone and the state keeps working", async () => {
    const path = join(tempDir(), "state.db");
    const state = createSqliteState({ path });
    const stored = await state.create(make("a"));
    const noString = 5 as unknown as string;
    await assert.rejects(
      state.update({ ...stored, metadata: { ...stored.metadata, finalizers: [noString] } }),
      (err: Error) => hasCode(err, "invalid_argument") && /metadata\.finalizers/.test(err.message),
    );
    await assert.rejects(
      state.create(make("b"), { owner: noString }),
      (err: Error) =>
        hasCode(err, "invalid_argument") && /test\/TestSpec\/b: metadata\.owner/.test(err.message),
    );
    await assert.rejects(state.update({ ...stored, spec: { value: "x", count: Number.NaN } }), (err) =>
      hasCode(err, "invalid_argument"),
    );
    const next = await state.update({ ...stored, spec: { value: "ok", count: 1 } });
    assert.equal(next.metadata.version, 2);
    await state.close();
    const reopened = createSqliteState({ path });
    assert.deepEqual(await reopened.list(TestSpec.kind()), [next]);
    await reopened.close();
  });

  it("fails naming the path when its directory does not exist, creating nothing", () => {
    const dir = join(tempDir(), "missing");
    const path = join(dir, "state.db");
    assertRefused(path, /directory .*missing does not exist/);
    assert.equal(existsSync(dir), false);
  });

  it("an empty file becomes a new state database", async () => {
    const path = join(tempDir(), "state.db");
    writeFileSync(path, "");
    const state = createSqliteState({ path });
    await state.create(make("a"));
    await state.close();
    assert.equal(readFileSync(path).subarray(0, 15).toString(), "SQLite format 3");
  });

  it("refuses a file that is not a SQLite database and leaves it untouched", () => {
    const path = join(tempDir(), "notes.txt");
    const content = Buffer.from("not a database\n".repeat(500));
    writeFileSync(path, content);
    assertRefused(path, /not a SQLite database/);
    assert.deepEqual(readFileSync(path), content);
  });

  it("refuses the SQLite database of another application and leaves it untouched", () => {
    const dir = tempDir();
    const plain = join(dir, "other.db");
    const db = new DatabaseSync(plain);
    db.exec("CREATE TABLE things (name TEXT); INSERT INTO things VALUES ('kept');");
    db.close();
    const content = readFileSync(plain);
    assertRefused(plain, /not a Plinth state database \(it holds things\)/);
    assert.deepEqual(readFileSync(plain), content);

    const marked = join(dir, "marked.db");
    const other = new DatabaseSync(marked);
    other.exec("PRAGMA application_id = 42; CREATE TABLE t (x);");
    other.close();
    const markedContent = readFileSync(marked);
    assertRefused(marked, /another application \(application id 0x2a\)/);
    assert.deepEqual(readFileSync(marked), markedContent);
  });

  it("refuses a corrupt Plinth database and leaves it untouched", async () => {
    const path = join(tempDir(), "state.db");
    const state = createSqliteState({ path });
    for (let i = 0; i < 200; i++) await state.create(make(`r${i}`.padEnd(200, "x")));
    await state.close();
    const content = readFileSync(path);
    assert.ok(content.length > 8 * 4096, "the resources span several pages");
    const corrupt = Buffer.from(content);
    corrupt.fill(0xa5, 4096 + 100, 4 * 4096);
    writeFileSync(path, corrupt);
    assertRefused(path, /corrupt/);
    assert.deepEqual(readFileSync(path), corrupt);
  });

  it("refuses a Plinth database holding a resource that does not decode", async () => {
    const path = join(tempDir(), "state.db");
    const state = createSqliteState({ path });
    await state.create(make("a"));
    await state.create(make("b"));
    await state.close();
    const db = new DatabaseSync(path);
    db.exec(`UPDATE plinth_resources SET body = '{"metadata": {"id": ' WHERE id = 'b'`);
    db.close();
    const content = readFileSync(path);
    assertRefused(path, /corrupt: resource test\/TestSpec\/b does not decode/);
    assert.deepEqual(readFileSync(path), content);
  });

  it("refuses a database written by a newer schema", async () => {
    const path = join(tempDir(), "state.db");
    await createSqliteState({ path }).close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE plinth_schema SET version = 99");
    db.close();
    assertRefused(path, /newer Plinth \(schema version 99/);
  });
});
