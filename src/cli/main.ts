import { Command, CommanderError } from "commander";
import { isPlinthError } from "../errors/plinth-error.ts";
import { version } from "../version.ts";
import { registerAgent } from "./agent.ts";
import { registerApplyConfig } from "./apply-config.ts";
import { addGlobalFlags } from "./client/global-flags.ts";
import { registerCluster } from "./cluster.ts";
import { registerConfig } from "./config.ts";
import { registerConfigRemote } from "./config-remote.ts";
import { registerDiscovery } from "./discovery.ts";
import { registerDoctor } from "./doctor.ts";
import { registerEtcd } from "./etcd.ts";
import { registerGen } from "./gen.ts";
import { registerGet } from "./get.ts";
import { registerHealth } from "./health.ts";
import { registerLogs } from "./logs.ts";
import { registerMachineVerbs } from "./machine-verbs.ts";
import { registerMachineconfig } from "./machineconfig.ts";
import { registerServices } from "./services.ts";
import { registerValidate } from "./validate.ts";

export function buildProgram(): Command {
  const program = new Command("plinth")
    .description("API-driven, declarative, SSH-free management of Linux machines and their clusters")
    .version(version, "-v, --version", "print the CLI version")
    .showHelpAfterError()
    .exitOverride();
  addGlobalFlags(program);
  registerDoctor(program);
  registerGen(program);
  registerValidate(program);
  registerMachineconfig(program);
  registerConfig(program);
  registerConfigRemote(program.commands.find((c) => c.name() === "config")!);
  registerApplyConfig(program);
  registerGet(program);
  registerServices(program);
  registerLogs(program);
  registerMachineVerbs(program);
  registerEtcd(program);
  registerCluster(program);
  registerHealth(program);
  registerAgent(program);
  registerDiscovery(program);
  return program;
}

/** Runs the CLI and returns the exit code; errors become one clear line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = isPlinthError(err) ? `${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`plinth: ${message}\n`);
    return 1;
  }
}
