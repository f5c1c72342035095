import { join } from "node:path";
import type { Command } from "commander";
import { stringifyClientConfig } from "../config/client-config.ts";
import { objectName, url } from "../config/fields.ts";
import { generateClientConfig } from "../config/generate/generate-client-config.ts";
import { generateMachineConfig, type MachineType } from "../config/generate/generate-machine-config.ts";
import { generateSecrets, type MachineSecretsDocument } from "../config/generate/generate-secrets.ts";
import { loadConfig, validateConfigValues } from "../config/load-config.ts";
import { applyPatches } from "../config/patch/config-patch.ts";
import { stringifyDocuments } from "../config/stringify-config.ts";
import { PlinthError } from "../errors/plinth-error.ts";
import { type CliIo, collect, processIo } from "./cli-io.ts";
import { printConfigError, printIssues } from "./config-issues-output.ts";
import { type OutputFile, readTextFile, writeFilesAtomic } from "./files.ts";
import { readPatchArgs } from "./patch-args.ts";

interface GenSecretsFlags {
  output: string;
  force?: boolean;
}

interface GenConfigFlags {
  withSecrets?: string;
  configPatch: string[];
  configPatchControlPlane: string[];
  configPatchWorker: string[];
  outputDir: string;
  force?: boolean;
}

/** `plinth gen secrets` and `plinth gen config`. */
export function registerGen(program: Command): void {
  const gen = program.command("gen").description("generate secrets and machine configs");
  gen
    .command("secrets")
    .description("generate a secrets bundle: cluster id and secret, bootstrap token, API and etcd CAs")
    .option("-o, --output <file>", "where to write the bundle", "secrets.yaml")
    .option("--force", "overwrite an existing file")
    .action(async (flags: GenSecretsFlags) => {
      process.exitCode = await runGenSecrets(flags);
    });
  gen
    .command("config")
    .description("generate controlplane.yaml, worker.yaml and a client config (plinthconfig) for a cluster")
    .argument("<name>", "the cluster name")
    .argument("<endpoint>", "the control-plane endpoint URL, e.g. https://10.5.0.2:6443")
    .option(
      "--with-secrets <file>",
      "use this secrets bundle (from 'plinth gen secrets') instead of fresh secrets",
    )
    .option(
      "--config-patch <patch>",
      "patch both configs: @file or inline YAML/JSON; repeatable, applied in order",
      collect,
      [],
    )
    .option("--config-patch-control-plane <patch>", "patch the controlplane config; repeatable", collect, [])
    .option("--config-patch-worker <patch>", "patch the worker config; repeatable", collect, [])
    .option("-o, --output-dir <dir>", "directory to write the files into", ".")
    .option("--force", "overwrite existing files")
    .action(async (name: string, endpoint: string, flags: GenConfigFlags) => {
      process.exitCode = await runGenConfig(name, endpoint, flags);
    });
}

export async function runGenSecrets(flags: GenSecretsFlags, io: CliIo = processIo): Promise<number> {
  const secrets = await generateSecrets();
  await writeFilesAtomic([{ path: flags.output, data: stringifyDocuments([secrets]) }], {
    force: flags.force,
  });
  io.out(`wrote ${flags.output}\n`);
  return 0;
}

async function readSecrets(path: string, io: CliIo): Promise<MachineSecretsDocument | number> {
  const result = loadConfig(await readTextFile(path, "--with-secrets"));
  if (!result.ok) return printIssues(io, result.issues, path);
  const secrets = result.bundle.find("MachineSecrets");
  if (!secrets) {
    throw new PlinthError(
      "invalid_argument",
      `--with-secrets ${path}: expected a MachineSecrets document (from 'plinth gen secrets')`,
    );
  }
  return secrets;
}

/** The host of the endpoint URL, without IPv6 brackets: where the client dials the API. */
function endpointHost(endpoint: string): string {
  return new URL(endpoint).hostname.replace(/^\[(.*)\]$/, "$1");
}

export async function runGenConfig(
  name: string,
  endpoint: string,
  flags: GenConfigFlags,
  io: CliIo = processIo,
): Promise<number> {
  if (!objectName().safeParse(name).success) {
    throw new PlinthError(
      "invalid_argument",
      `NAME must be lower-case letters, digits and inner hyphens (at most 63), got ${JSON.stringify(name)}`,
    );
  }
  if (!url().safeParse(endpoint).success) {
    throw new PlinthError(
      "invalid_argument",
      `ENDPOINT must be a URL like https://10.5.0.2:6443, got ${JSON.stringify(endpoint)}`,
    );
  }
  try {
    const secrets = flags.withSecrets ? await readSecrets(flags.withSecrets, io) : await generateSecrets();
    if (typeof secrets === "number") return secrets;
    const common = await readPatchArgs(flags.configPatch, "--config-patch");
    const perType: Record<MachineType, Awaited<ReturnType<typeof readPatchArgs>>> = {
      controlplane: await readPatchArgs(flags.configPatchControlPlane, "--config-patch-control-plane"),
      worker: await readPatchArgs(flags.configPatchWorker, "--config-patch-worker"),
    };
    const files: OutputFile[] = [];
    for (const type of ["controlplane", "worker"] as const) {
      const file = join(flags.outputDir, `${type}.yaml`);
      const docs = applyPatches(generateMachineConfig(type, { clusterName: name, endpoint, secrets }), [
        ...common,
        ...perType[type],
      ]);
      const result = validateConfigValues(docs);
      if (!result.ok) return printIssues(io, result.issues, file);
      files.push({ path: file, data: stringifyDocuments(docs) });
    }
    const client = await generateClientConfig({
      contextName: name,
      endpoints: [endpointHost(endpoint)],
      ca: secrets.certs.api,
    });
    files.push({ path: join(flags.outputDir, "plinthconfig"), data: stringifyClientConfig(client) });
    await writeFilesAtomic(files, { force: flags.force });
    for (const f of files) io.out(`wrote ${f.path}\n`);
    return 0;
  } catch (err) {
    const code = printConfigError(io, err);
    if (code !== undefined) return code;
    throw err;
  }
}
