import type { Command } from "commander";
import { Option } from "commander";
import { createAgent } from "../agent/agent.ts";
import { parseHostPort } from "../agent/host-port.ts";
import { scheduleStartupMemoryRelease } from "../agent/release-startup-memory.ts";
import { parseDuration } from "../config/duration.ts";
import { endStartupTiering } from "../startup/startup-tiering.js";
import { armTrialDeadline, chooseAgentCode, restartExitCode, runSlot } from "../upgrade/launcher.ts";
import { version } from "../version.ts";

interface AgentFlags {
  stateDir: string;
  listen?: string;
  config?: string;
  metrics: string;
  mode: "local" | "netns" | "host";
  logLevel: string;
  configHistory: number;
  driftCheck: string;
}

/** `plinth agent`: the per-machine daemon. Runs until SIGTERM or SIGINT. */
export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run the machine agent: resource runtime, controllers, services and the machine API")
    .option("--state-dir <dir>", "where the agent keeps its state and logs", "/var/lib/plinth")
    .option("--listen <addr:port>", "machine API address (default: from the config, else 0.0.0.0:50000)")
    .option("--config <file>", "apply this config at start when it differs from the stored one")
    .option("--metrics <addr:port>", "Prometheus metrics address ('off' to disable)", "127.0.0.1:9101")
    .addOption(
      new Option(
        "--mode <mode>",
        "what the agent manages: host (a whole machine), netns or local (sandboxes)",
      )
        .choices(["host", "netns", "local"])
        .default("host"),
    )
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .option(
      "--config-history <n>",
      "how many past configs to keep for `config history` and `config rollback`",
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) {
          throw new TypeError(`--config-history must be a whole number >= 1, current value is '${v}'`);
        }
        return n;
      },
      20,
    )
    .option("--drift-check <duration>", "how often controllers re-read the host and repair drift", "1s")
    .action(async (flags: AgentFlags) => {
      const driftCheckMs = parseDuration(flags.driftCheck);
      if (driftCheckMs === undefined || driftCheckMs < 100) {
        throw new TypeError(
          `--drift-check must be a duration of at least 100ms, like 1s or 30s, current value is '${flags.driftCheck}'`,
        );
      }
      // The install slot `current` points at runs instead of this code (see docs/upgrade.md).
      const choice = await chooseAgentCode(flags.stateDir);
      for (const note of choice.notes) process.stderr.write(`plinth agent: ${note}\n`);
      let restart = false;
      if (choice.trial) {
        armTrialDeadline(flags.stateDir, choice.trial, (r) => {
          restart = true;
          process.stderr.write(`plinth agent: upgrade rolled back: ${r.error}\n`);
        });
      }
      if (choice.slot) {
        await runSlot(flags.stateDir, choice.slot);
        if (restart) process.exit(restartExitCode);
        return;
      }
      let stop = (_why: string) => {};
      const stopped = new Promise<void>((resolve) => {
        stop = (why: string) => {
          process.stderr.write(`plinth agent: ${why}: stopping\n`);
          resolve();
        };
      });
      const agent = createAgent({
        stateDir: flags.stateDir,
        ...(flags.listen ? { listen: parseHostPort(flags.listen, "--listen") } : {}),
        ...(flags.config ? { configPath: flags.config } : {}),
        metricsListen:
          flags.metrics === "off" ? null : parseHostPort(flags.metrics, "--metrics", "127.0.0.1"),
        mode: flags.mode,
        version,
        logLevel: flags.logLevel,
        logStream: process.stderr,
        configHistoryLimit: flags.configHistory,
        driftCheckMs,
        // Everything is stopped already: stop() below only closes what is left; exit code 0.
        onShutdown: () => stop("shutdown"),
        onRestart: () => {
          restart = true;
          stop("restart from the current install slot");
        },
      });
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
      await agent.start();
      endStartupTiering();
      scheduleStartupMemoryRelease();
      await stopped;
      await agent.stop();
      // The node's init (or systemd) starts the agent again, from the slot now current.
      if (restart) process.exit(restartExitCode);
    });
}
