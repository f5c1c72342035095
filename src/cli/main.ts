import { Command, CommanderError } from "commander";
import { isPlinthError } from "../errors/plinth-error.ts";
import { version } from "../version.ts";
import { addGlobalFlags } from "./client/global-flags.ts";

type Register = (program: Command) => void;

/**
 * Verb groups by command name, loaded on demand: start-up time is mostly module loading, and
 * `plinth agent` should not load the CLI-only code of every other verb (nor they the agent's).
 */
const verbs: Record<string, () => Promise<Register>> = {
  doctor: async () => (await import("./doctor.ts")).registerDoctor,
  gen: async () => (await import("./gen.ts")).registerGen,
  validate: async () => (await import("./validate.ts")).registerValidate,
  machineconfig: async () => (await import("./machineconfig.ts")).registerMachineconfig,
  config: async () => {
    const [{ registerConfig }, { registerConfigRemote }] = await Promise.all([
      import("./config.ts"),
      import("./config-remote.ts"),
    ]);
    return (program) => {
      registerConfig(program);
      registerConfigRemote(program.commands.find((c) => c.name() === "config")!);
    };
  },
  "apply-config": async () => (await import("./apply-config.ts")).registerApplyConfig,
  get: async () => (await import("./get.ts")).registerGet,
  services: async () => (await import("./services.ts")).registerServices,
  logs: async () => (await import("./logs.ts")).registerLogs,
  version: async () => (await import("./machine-verbs.ts")).registerMachineVerbs,
  etcd: async () => (await import("./etcd.ts")).registerEtcd,
  cluster: async () => (await import("./cluster.ts")).registerCluster,
  health: async () => (await import("./health.ts")).registerHealth,
  agent: async () => (await import("./agent.ts")).registerAgent,
  discovery: async () => (await import("./discovery.ts")).registerDiscovery,
  upgrade: async () => (await import("./upgrade.ts")).registerUpgrade,
};
/** Commands registered by another command's module. */
const aliases: Record<string, string> = {
  mc: "machineconfig",
  service: "services",
  reboot: "version",
  reset: "version",
  bootstrap: "etcd",
  bundle: "upgrade",
};
const globalsWithValue = new Set(["--plinthconfig", "--context", "-e", "--endpoints", "-n", "--nodes"]);

/** The verb of a command line: the first word that is not a global flag or its value. */
function verbOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (globalsWithValue.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const verb = verbOf(argv);
  const program = new Command("plinth")
    .description("API-driven, declarative, SSH-free management of Linux machines and their clusters")
    .showHelpAfterError()
    .exitOverride();
  // `bundle create --version V` names the bundle's version, not a request for the CLI's.
  if (verb !== "bundle") program.version(version, "-v, --version", "print the CLI version");
  addGlobalFlags(program);
  const name = verb && (verbs[verb] ? verb : aliases[verb]);
  const groups = name ? [verbs[name]!] : Object.values(verbs);
  for (const register of await Promise.all(groups.map((load) => load()))) register(program);
  return program;
}

/** Runs the CLI and returns the exit code; errors become one clear line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
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
