import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type ClientConfig,
  emptyClientConfig,
  parseClientConfig,
  stringifyClientConfig,
} from "../config/client-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import type { CliIo } from "./cli-io.ts";
import { exists, readTextFile, writeFileAtomic } from "./files.ts";

/** `--plinthconfig`, else `$PLINTHCONFIG`, else `~/.plinth/config`. */
export function plinthconfigPath(flag: string | undefined, io: CliIo): string {
  return flag || io.env.PLINTHCONFIG || join(io.homedir, ".plinth", "config");
}

/** Reads the client config; a missing file is an error unless `missingOk`, then it is empty. */
export async function readPlinthconfig(
  path: string,
  options: { missingOk?: boolean } = {},
): Promise<ClientConfig> {
  if (!(await exists(path))) {
    if (options.missingOk) return emptyClientConfig();
    throw new PlinthError(
      "not_found",
      `no client config at ${path}; make one with 'plinth gen config' and add it with 'plinth config merge'`,
    );
  }
  return parseClientConfig(await readTextFile(path, "client config"), path);
}

/** Writes the client config atomically, owner-only, creating its directory (0700). */
export async function writePlinthconfig(path: string, config: ClientConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, stringifyClientConfig(config), { mode: 0o600 });
}
