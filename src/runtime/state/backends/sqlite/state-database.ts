import { closeSync, openSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PlinthError } from "../../../../errors/plinth-error.ts";
import type { AnyResource } from "../../../resource/resource.ts";
import { decodeResource } from "./resource-json.ts";

/** "PLNT": marks a SQLite file as a Plinth state database (PRAGMA application_id). */
export const applicationId = 0x504c4e54;
/** The schema this code writes; older databases are migrated on open, newer ones refused. */
export const schemaVersion = 1;

const schemaV1 = `
  CREATE TABLE plinth_schema (version INTEGER NOT NULL) STRICT;
  INSERT INTO plinth_schema (version) VALUES (1);
  CREATE TABLE plinth_meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;
  INSERT INTO plinth_meta (key, value) VALUES ('revision', 0);
  CREATE TABLE plinth_resources (
    namespace TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (namespace, type, id)
  ) STRICT, WITHOUT ROWID;
  PRAGMA application_id = ${applicationId};
`;

/** Migrations from version n to n + 1, at index n - 1. None yet. */
const migrations: readonly string[] = [];

export interface OpenedDatabase {
  readonly db: DatabaseSync;
  readonly initial: { readonly resources: AnyResource[]; readonly revision: number };
}

function fail(path: string, what: string, cause?: unknown): PlinthError {
  return new PlinthError("failed_precondition", `cannot open state database ${path}: ${what}`, { cause });
}

const sqliteMagic = Buffer.from("SQLite format 3\0", "latin1");

/**
 * Checks from the file header alone, before SQLite opens the file, that it is empty or could be
 * a Plinth database: a foreign file is refused without being touched. The application id in the
 * header is authoritative because it is set when the database is created, before the switch to
 * WAL, and never changes.
 */
function checkHeader(path: string): void {
  let dir: ReturnType<typeof statSync> | undefined;
  try {
    dir = statSync(dirname(resolve(path)));
  } catch (err) {
    throw fail(path, `directory ${dirname(resolve(path))} does not exist`, err);
  }
  if (!dir.isDirectory()) throw fail(path, `${dirname(resolve(path))} is not a directory`);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw fail(path, `the file cannot be read (${(err as Error).message})`, err);
  }
  const header = Buffer.alloc(100);
  let size: number;
  try {
    if (!statSync(path).isFile()) throw fail(path, "it is not a regular file");
    size = readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (size === 0) return;
  if (size < header.length || !header.subarray(0, sqliteMagic.length).equals(sqliteMagic)) {
    throw fail(path, "the file is not a SQLite database, so not a Plinth state database");
  }
  const id = header.readUInt32BE(68);
  if (id !== 0 && id !== applicationId) {
    throw fail(
      path,
      `the file is the SQLite database of another application (application id 0x${id.toString(16)})`,
    );
  }
}

function describeSqliteError(path: string, err: unknown): PlinthError {
  if (err instanceof PlinthError) return err;
  const code = ((err as { errcode?: number }).errcode ?? 0) & 0xff;
  const message = (err as Error)?.message ?? String(err);
  if (code === 5 || code === 6) {
    return new PlinthError(
      "unavailable",
      `cannot open state database ${path}: it is in use by another state (${message})`,
      { cause: err },
    );
  }
  if (code === 11) return fail(path, `the database is corrupt (${message})`, err);
  if (code === 26)
    return fail(path, "the file is not a SQLite database, so not a Plinth state database", err);
  return fail(path, message, err);
}

/** Creates the schema in an empty database, or checks and migrates the one found. */
function prepareSchema(path: string, db: DatabaseSync): void {
  const id = (db.prepare("PRAGMA application_id").get() as { application_id: number }).application_id;
  if (id === 0) {
    const objects = db.prepare("SELECT name FROM sqlite_schema").all() as { name: string }[];
    if (objects.length > 0) {
      const names = objects.map((o) => o.name).join(", ");
      throw fail(path, `the file is a SQLite database but not a Plinth state database (it holds ${names})`);
    }
    db.exec(schemaV1);
    return;
  }
  if (id !== applicationId) {
    throw fail(
      path,
      `the file is the SQLite database of another application (application id 0x${id.toString(16)})`,
    );
  }
  let rows: { version: unknown }[];
  try {
    rows = db.prepare("SELECT version FROM plinth_schema").all() as { version: unknown }[];
  } catch (err) {
    throw fail(
      path,
      `the database is corrupt: its schema version cannot be read (${(err as Error).message})`,
      err,
    );
  }
  const version = rows[0]?.version;
  if (rows.length !== 1 || !Number.isSafeInteger(version) || (version as number) < 1) {
    throw fail(
      path,
      `the database is corrupt: its schema version is ${JSON.stringify(rows.map((r) => r.version))}`,
    );
  }
  if ((version as number) > schemaVersion) {
    throw fail(
      path,
      `it was written by a newer Plinth (schema version ${version}, this one reads up to ${schemaVersion})`,
    );
  }
  for (let v = version as number; v < schemaVersion; v++) {
    db.exec(migrations[v - 1]!);
    db.prepare("UPDATE plinth_schema SET version = ?").run(v + 1);
  }
}

function load(path: string, db: DatabaseSync): OpenedDatabase["initial"] {
  const problems = (db.prepare("PRAGMA quick_check").all() as { quick_check: string }[])
    .map((r) => r.quick_check)
    .filter((r) => r !== "ok");
  if (problems.length > 0) throw fail(path, `the database is corrupt (${problems.slice(0, 3).join("; ")})`);
  const meta = db.prepare("SELECT value FROM plinth_meta WHERE key = 'revision'").get() as
    | { value: unknown }
    | undefined;
  const revision = meta?.value;
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) {
    throw fail(path, `the database is corrupt: its revision is ${JSON.stringify(revision)}`);
  }
  const resources: AnyResource[] = [];
  const rows = db
    .prepare("SELECT namespace, type, id, revision, body FROM plinth_resources")
    .iterate() as Iterable<{
    namespace: string;
    type: string;
    id: string;
    revision: number;
    body: string;
  }>;
  for (const row of rows) {
    const where = `${row.namespace}/${row.type}/${row.id}`;
    if (row.revision > (revision as number)) {
      throw fail(
        path,
        `the database is corrupt: ${where} is at revision ${row.revision}, after the last ${revision}`,
      );
    }
    try {
      resources.push(decodeResource(row.body, row));
    } catch (err) {
      throw fail(
        path,
        `the database is corrupt: resource ${where} does not decode: ${(err as Error).message}`,
        err,
      );
    }
  }
  return { resources, revision: revision as number };
}

/**
 * Opens (creating when absent or empty) a Plinth state database and loads its contents. The
 * connection keeps an exclusive lock until it is closed, so a second state on the same file
 * fails instead of diverging. Nothing is written to a file until it has been recognised.
 */
export function openStateDatabase(path: string): OpenedDatabase {
  checkHeader(path);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw describeSqliteError(path, err);
  }
  try {
    // Exclusive locking before the first read: WAL then keeps its index in process memory.
    db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA synchronous = FULL;");
    // The schema is created in rollback-journal mode, so the application id reaches the main
    // file in the same atomic commit as the tables (a crash midway leaves an empty database).
    db.exec("BEGIN IMMEDIATE");
    prepareSchema(path, db);
    db.exec("COMMIT");
    const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
    if (mode !== "wal") throw fail(path, `SQLite cannot keep it in WAL mode (journal mode is ${mode})`);
    db.exec("PRAGMA synchronous = FULL");
    return { db, initial: load(path, db) };
  } catch (err) {
    try {
      if (db.isTransaction) db.exec("ROLLBACK");
      db.close();
    } catch {
      // Already failing; the first error says why.
    }
    throw describeSqliteError(path, err);
  }
}
