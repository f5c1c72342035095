import type { CoreState } from "../../core-state.ts";
import { createStoreEngine } from "../../internal/store-engine.ts";
import type { WatchHubOptions } from "../../internal/watch-hub.ts";
import { createSqliteJournal } from "./sqlite-journal.ts";
import { openStateDatabase } from "./state-database.ts";

export interface SqliteStateOptions extends WatchHubOptions {
  /** The database file; created when absent, its directory must exist. */
  readonly path: string;
}

/**
 * A CoreState kept in a SQLite file (node:sqlite) that survives kill -9: every resource is held
 * in memory and every write is on disk before it is acknowledged. After a crash the file holds
 * exactly the writes of some prefix of the batches, at least all the acknowledged ones.
 * Bookmarks keep increasing across restarts; watch history starts empty after one.
 *
 * Fails with failed_precondition naming the path when the file is not a Plinth state database
 * or is corrupt (leaving it as it was), and with unavailable while another state holds it.
 */
export function createSqliteState(options: SqliteStateOptions): CoreState {
  if (typeof options?.path !== "string" || options.path === "") {
    throw new TypeError(
      `Cannot open sqlite state: 'path' must be a file path, current value is ${JSON.stringify(options?.path)}`,
    );
  }
  const { db, initial } = openStateDatabase(options.path);
  return createStoreEngine({
    historySize: options.historySize,
    watcherBacklog: options.watcherBacklog,
    journal: createSqliteJournal(db),
    initial,
  });
}
