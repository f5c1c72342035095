// Comparison 5: acknowledged, fully durable writes through Plinth's sqlite state backend (64
// concurrent writers, each update acknowledged once it is on disk) vs a bare node:sqlite loop with
// the same pragmas committing one row per transaction. Both write into a fresh database file in a
// directory of their own, on the same file system, for the same time.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { z } from "zod";
import { defineResource } from "../../src/runtime/resource/definition.ts";
import { createRegistry } from "../../src/runtime/resource/registry.ts";
import type { Resource } from "../../src/runtime/resource/resource.ts";
import { createSqliteState } from "../../src/runtime/state/backends/sqlite/index.ts";
import { wrapCore } from "../../src/runtime/state/state.ts";
import { withValidation } from "../../src/runtime/state/validating-state.ts";
import type { Comparison } from "./summary.ts";

const writers = 64;
const writeMs = 3000;

const spec = z.strictObject({ value: z.string(), n: z.number().int() });
type Spec = z.infer<typeof spec>;
const Item = defineResource({ type: "PeerBenchItem", namespace: "bench", schema: spec });
const registry = createRegistry([Item]);

/** Updates per second through the validating state over the sqlite backend. */
async function plinthWrites(dir: string): Promise<{ perSec: number; body: string }> {
  const state = wrapCore(withValidation(createSqliteState({ path: join(dir, "state.db") }), registry));
  try {
    const live: Resource<Spec>[] = await Promise.all(
      Array.from({ length: writers }, (_, i) => state.create(Item.make(`w${i}`, { value: "x", n: 0 }))),
    );
    let writes = 0;
    const start = performance.now();
    const stopAt = start + writeMs;
    await Promise.all(
      live.map(async (_, slot) => {
        for (let n = 1; performance.now() < stopAt; n++) {
          const cur = live[slot]!;
          live[slot] = await state.update({ metadata: cur.metadata, spec: { value: "y", n } });
          writes++;
        }
      }),
    );
    return { perSec: writes / ((performance.now() - start) / 1000), body: JSON.stringify(live[0]) };
  } finally {
    await state.close();
  }
}

/**
 * The floor: the backend's pragmas (exclusive locking, WAL, synchronous=FULL), one upsert of a row
 * the size of a stored resource per transaction, rows taken in turn by 64 ids. node:sqlite is
 * synchronous, so 64 callers would take turns on one connection all the same.
 */
function rawWrites(dir: string, body: string): number {
  const db = new DatabaseSync(join(dir, "raw.db"));
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA synchronous = FULL;");
    db.exec("CREATE TABLE rows (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL) STRICT");
    const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
    if (mode !== "wal") throw new Error(`raw sqlite: journal mode is ${mode}, not wal`);
    db.exec("PRAGMA synchronous = FULL");
    const begin = db.prepare("BEGIN IMMEDIATE");
    const commit = db.prepare("COMMIT");
    const put = db.prepare(
      "INSERT INTO rows (id, revision, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, body = excluded.body",
    );
    let writes = 0;
    const start = performance.now();
    const stopAt = start + writeMs;
    while (performance.now() < stopAt) {
      begin.run();
      put.run(`w${writes % writers}`, writes, body);
      commit.run();
      writes++;
    }
    return writes / ((performance.now() - start) / 1000);
  } finally {
    db.close();
  }
}

export const storeVsSqlite: Comparison = {
  title: "durable store vs raw node:sqlite",
  figures: [
    {
      key: "durableWritesPerSec",
      label: `Plinth sqlite state, ${writers} writers, acknowledged writes`,
      unit: "writes/s",
      digits: 0,
      goal: { value: 20_000, higherIsBetter: true },
      json: true,
    },
    {
      key: "rawSqliteWritesPerSec",
      label: "bare node:sqlite loop, one row per transaction",
      unit: "writes/s",
      digits: 0,
      json: false,
    },
    { key: "durableOverRaw", label: "Plinth / raw", unit: "×", digits: 2, json: true },
  ],
  notes: [
    "both: WAL, synchronous=FULL, exclusive locking, a fresh file; a write counts once it is on disk",
    "Plinth commits the writes that arrive together in one transaction (one fsync for many writes);",
    "the bare loop pays one fsync per row as asked, so the ratio is what this group commit buys",
  ],
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "plinth-bench-store-"));
    try {
      const plinth = await plinthWrites(dir);
      const raw = rawWrites(dir, plinth.body);
      return {
        durableWritesPerSec: plinth.perSec,
        rawSqliteWritesPerSec: raw,
        durableOverRaw: plinth.perSec / raw,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
