import type { Command } from "commander";
import { processIo } from "../cli-io.ts";
import { globalFlags } from "./global-flags.ts";
import { type ApiSession, openSession } from "./session.ts";

/** Opens a session from the command's global flags, runs `fn`, and always closes it. */
export async function withSession<T>(
  cmd: Command,
  fn: (session: ApiSession) => Promise<T>,
  options: { insecure?: boolean } = {},
): Promise<T> {
  const session = await openSession(globalFlags(cmd), processIo, options);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
