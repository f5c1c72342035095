import type { DatabaseSync } from "node:sqlite";
import type { AnyResource } from "../../../resource/resource.ts";
import type { Change } from "../../internal/event-filter.ts";
import type { Journal } from "../../internal/store-engine.ts";
import { encodeResource } from "./resource-json.ts";

/**
 * Writes each batch of changes in one SQLite transaction. With WAL and synchronous=FULL, commit
 * returns only once the batch is on disk, so the engine acknowledges nothing that a crash could
 * take back; a crash mid-batch loses the whole batch and nothing before it.
 */
export function createSqliteJournal(db: DatabaseSync): Journal {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const put = db.prepare(
    `INSERT INTO plinth_resources (namespace, type, id, revision, body) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (namespace, type, id) DO UPDATE SET revision = excluded.revision, body = excluded.body`,
  );
  const remove = db.prepare("DELETE FROM plinth_resources WHERE namespace = ? AND type = ? AND id = ?");
  const setRevision = db.prepare("UPDATE plinth_meta SET value = ? WHERE key = 'revision'");
  // Encoded once when the write is admitted, reused when its batch commits.
  const encoded = new WeakMap<AnyResource, string>();
  let open = true;

  return {
    admit(resource) {
      encoded.set(resource, encodeResource(resource));
    },
    commit(batch: readonly Change[]) {
      const last = batch.at(-1);
      if (!last) return;
      begin.run();
      try {
        for (const change of batch) {
          const { namespace, type, id } = change.resource.metadata;
          if (change.type === "destroyed") {
            remove.run(namespace, type, id);
          } else {
            const body = encoded.get(change.resource) ?? encodeResource(change.resource);
            put.run(namespace, type, id, change.revision, body);
          }
        }
        setRevision.run(last.revision);
        commit.run();
      } catch (err) {
        // SQLite may have rolled back already (an I/O error at commit does); never leave a
        // half-applied batch open for the next one to commit.
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    },
    close() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}
