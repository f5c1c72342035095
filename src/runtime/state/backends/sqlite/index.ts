export type { SqliteStateOptions } from "./sqlite-state.ts";
export { createSqliteState } from "./sqlite-state.ts";
