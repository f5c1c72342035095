import type { Command } from "commander";
import {
  type ClientConfig,
  decodeCredential,
  mergeClientConfig,
  parseClientConfig,
  selectContext,
  setEndpoints,
  setNodes,
  useContext,
} from "../config/client-config.ts";
import { describeCertificate } from "../pki/certificate-info.ts";
import { type CliIo, processIo } from "./cli-io.ts";
import { readTextFile } from "./files.ts";
import { renderTable } from "./output/table.ts";
import { plinthconfigPath, readPlinthconfig, writePlinthconfig } from "./plinthconfig-file.ts";

export interface ConfigFlags {
  plinthconfig?: string;
  context?: string;
}

type Action = (flags: ConfigFlags, io: CliIo) => Promise<number>;

function run(action: (flags: ConfigFlags) => Promise<number>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    process.exitCode = await action(cmd.optsWithGlobals<ConfigFlags>());
  };
}

/**
 * `plinth config contexts|context|endpoint|node|merge|info`: the client config. The file and the
 * context come from the program's global `--plinthconfig` and `--context` flags.
 */
export function registerConfig(program: Command): void {
  const group = program
    .command("config")
    .description(
      "manage the client config (default ~/.plinth/config); the global --plinthconfig and --context apply",
    );
  group
    .command("contexts")
    .description("list the contexts")
    .action(run((flags) => configContexts(flags, processIo)));
  group
    .command("context")
    .description("set the current context")
    .argument("<name>")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      process.exitCode = await configUseContext(name, cmd.optsWithGlobals<ConfigFlags>());
    });
  group
    .command("endpoint")
    .alias("endpoints")
    .description("set the endpoints of the context")
    .argument("<endpoints...>")
    .action(async (endpoints: string[], _opts: unknown, cmd: Command) => {
      process.exitCode = await configSetEndpoints(endpoints, cmd.optsWithGlobals<ConfigFlags>());
    });
  group
    .command("node")
    .alias("nodes")
    .description("set the default nodes of the context")
    .argument("<nodes...>")
    .action(async (nodes: string[], _opts: unknown, cmd: Command) => {
      process.exitCode = await configSetNodes(nodes, cmd.optsWithGlobals<ConfigFlags>());
    });
  group
    .command("merge")
    .description("add the contexts of another client config; clashing names get a -1, -2 … suffix")
    .argument("<file>")
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      process.exitCode = await configMerge(file, cmd.optsWithGlobals<ConfigFlags>());
    });
  group
    .command("info")
    .description("show the context: endpoints, nodes, roles and certificate expiry")
    .action(run((flags) => configInfo(flags, processIo)));
}

export const configContexts: Action = async (flags, io) => {
  const config = await readPlinthconfig(plinthconfigPath(flags.plinthconfig, io));
  const rows = Object.entries(config.contexts).map(([name, ctx]) => [
    name === config.context ? "*" : "",
    name,
    ctx.endpoints.join(",") || "-",
    ctx.nodes?.join(",") || "-",
  ]);
  io.out(`${renderTable(["CURRENT", "NAME", "ENDPOINTS", "NODES"], rows)}\n`);
  return 0;
};

async function change(
  flags: ConfigFlags,
  io: CliIo,
  edit: (config: ClientConfig) => ClientConfig,
): Promise<ClientConfig> {
  const path = plinthconfigPath(flags.plinthconfig, io);
  const config = edit(await readPlinthconfig(path));
  await writePlinthconfig(path, config);
  return config;
}

export async function configUseContext(
  name: string,
  flags: ConfigFlags,
  io: CliIo = processIo,
): Promise<number> {
  await change(flags, io, (c) => useContext(c, name));
  io.out(`current context is now ${JSON.stringify(name)}\n`);
  return 0;
}

export async function configSetEndpoints(
  endpoints: string[],
  flags: ConfigFlags,
  io: CliIo = processIo,
): Promise<number> {
  const config = await change(flags, io, (c) => setEndpoints(c, endpoints, flags.context));
  io.out(`endpoints of ${JSON.stringify(flags.context ?? config.context)}: ${endpoints.join(", ")}\n`);
  return 0;
}

export async function configSetNodes(
  nodes: string[],
  flags: ConfigFlags,
  io: CliIo = processIo,
): Promise<number> {
  const config = await change(flags, io, (c) => setNodes(c, nodes, flags.context));
  io.out(`nodes of ${JSON.stringify(flags.context ?? config.context)}: ${nodes.join(", ")}\n`);
  return 0;
}

export async function configMerge(file: string, flags: ConfigFlags, io: CliIo = processIo): Promise<number> {
  const incoming = parseClientConfig(await readTextFile(file, "client config"), file);
  const path = plinthconfigPath(flags.plinthconfig, io);
  const { config, renames } = mergeClientConfig(await readPlinthconfig(path, { missingOk: true }), incoming);
  await writePlinthconfig(path, config);
  for (const r of renames)
    io.out(`renamed config context ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)}\n`);
  io.out(
    `merged ${Object.keys(incoming.contexts).length} context(s) into ${path}; current context is ${JSON.stringify(config.context)}\n`,
  );
  return 0;
}

export const configInfo: Action = async (flags, io) => {
  const config = await readPlinthconfig(plinthconfigPath(flags.plinthconfig, io));
  const { name, context } = selectContext(config, flags.context);
  const cert = describeCertificate(decodeCredential(context.crt));
  const days = Math.floor((cert.notAfter.getTime() - Date.now()) / 86_400_000);
  const lines = [
    ["Current context:", name],
    ["Nodes:", context.nodes?.join(", ") || "not defined"],
    ["Endpoints:", context.endpoints.join(", ") || "not defined"],
    ["Roles:", cert.organization.join(", ") || "none"],
    [
      "Certificate expires:",
      `${days >= 0 ? `in ${days} days` : `${-days} days ago`} (${cert.notAfter.toISOString()})`,
    ],
  ];
  io.out(`${lines.map(([k, v]) => `${k!.padEnd(22)}${v}`).join("\n")}\n`);
  return 0;
};
