import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliResult, runCli } from "./cli.ts";

/** The shape of a local cluster, as `cluster create` takes it. */
export interface ClusterShape {
  readonly name: string;
  readonly controlplanes: number;
  readonly workers: number;
  readonly cidr: string;
}

/**
 * A private place for local clusters made through the CLI: a fresh directory with its own client
 * config and cluster records, so tests and benchmarks never touch ~/.plinth or each other.
 */
export interface ClusterHome {
  readonly dir: string;
  /** The environment every CLI call runs with (`PLINTH_CLUSTERS_DIR`). */
  readonly env: Record<string, string>;
  cli(...args: string[]): Promise<CliResult>;
  /** `plinth cluster create` of that shape, with any further flags. */
  create(shape: ClusterShape, ...flags: string[]): Promise<CliResult>;
}

export async function createClusterHome(
  prefix: string,
  options: { readonly timeoutMs?: number } = {},
): Promise<ClusterHome> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const env = { PLINTH_CLUSTERS_DIR: join(dir, "clusters") };
  const timeoutMs = options.timeoutMs ?? 120_000;
  const cli = (...args: string[]) =>
    runCli(["--plinthconfig", join(dir, "client"), ...args], { env, timeoutMs });
  return {
    dir,
    env,
    cli,
    create: (shape, ...flags) =>
      cli(
        "cluster",
        "create",
        "--name",
        shape.name,
        "--controlplanes",
        String(shape.controlplanes),
        "--workers",
        String(shape.workers),
        "--cidr",
        shape.cidr,
        ...flags,
      ),
  };
}
