import type { Command } from "commander";

/** Flags every verb that talks to machines shares (talosctl conventions). */
export interface GlobalFlags {
  readonly plinthconfig?: string;
  readonly context?: string;
  readonly endpoints?: string[];
  readonly nodes?: string[];
}

const commaList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean),
];

/** Declares the global flags on the program; verbs read them with `globalFlags(cmd)`. */
export function addGlobalFlags(program: Command): void {
  program
    .option("--plinthconfig <path>", "client config file (default $PLINTHCONFIG or ~/.plinth/config)")
    .option("--context <name>", "context of the client config to use")
    .option("-e, --endpoints <list>", "API endpoints to dial, comma-separated host[:port]", commaList)
    .option("-n, --nodes <list>", "target nodes, comma-separated (the endpoint forwards to them)", commaList);
}

export function globalFlags(cmd: Command): GlobalFlags {
  return cmd.optsWithGlobals() as GlobalFlags;
}
