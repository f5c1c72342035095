import { randomUUID } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { type HealthCheckRequest, MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { createResourceService } from "../api/resource-service.ts";
import { type ApiServer, createApiServer } from "../api/server.ts";
import type { ValidationMode } from "../config/checks/check-context.ts";
import { clientContext, stringifyClientConfig } from "../config/client-config.ts";
import { configError } from "../config/config-issue.ts";
import { parseDuration } from "../config/duration.ts";
import { loadConfig } from "../config/load-config.ts";
import { hasCode, PlinthError } from "../errors/plinth-error.ts";
import { serveHealthCheck } from "../health/serve-health-check.ts";
import { isRole, issueCert } from "../pki/index.ts";
import type { Controller } from "../runtime/controller/controller.ts";
import { type ControllerRuntime, createControllerRuntime } from "../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../runtime/resource/registry.ts";
import { createSqliteState } from "../runtime/state/backends/sqlite/sqlite-state.ts";
import { type State, wrapCore } from "../runtime/state/state.ts";
import { withValidation } from "../runtime/state/validating-state.ts";
import { createAgentUpgrades, type UpgradeRequest } from "./agent-upgrades.ts";
import { clusterNodes } from "./cluster-nodes.ts";
import { type ConfigApplier, createConfigApplier } from "./config-applier.ts";
import { configHistory, currentConfig, storeConfig } from "./config-store.ts";
import { createApiBalancerConfigController } from "./controllers/balancer/api-balancer-config-controller.ts";
import {
  apiBalancerControllerName,
  createApiBalancerController,
} from "./controllers/balancer/api-balancer-controller.ts";
import { createServiceConfigController } from "./controllers/config/service-config-controller.ts";
import { createDiagnosticControllers } from "./controllers/diagnostics/diagnostic-controllers.ts";
import {
  createDiscoveryController,
  discoveryControllerName,
} from "./controllers/discovery/discovery-controller.ts";
import { createEtcdConfigController } from "./controllers/etcd/etcd-config-controller.ts";
import { createEtcdController } from "./controllers/etcd/etcd-controller.ts";
import { createEtcdMemberController } from "./controllers/etcd/etcd-member-controller.ts";
import {
  createHostConfigControllers,
  createHostOperatorControllers,
} from "./controllers/host-controllers.ts";
import { createMeshConfigController } from "./controllers/mesh/mesh-config-controller.ts";
import { createMeshIdentityController } from "./controllers/mesh/mesh-identity-controller.ts";
import { createMeshOperatorController } from "./controllers/mesh/mesh-operator-controller.ts";
import { createMeshPeerSpecController } from "./controllers/mesh/mesh-peer-spec-controller.ts";
import { createServiceController, serviceControllerName } from "./controllers/services/service-controller.ts";
import { findEtcdBinary } from "./etcd/etcd-binary.ts";
import { createEtcdClients, type EtcdClients } from "./etcd/etcd-clients.ts";
import { clearEtcdLeft, createEtcdOperations, type EtcdOperations } from "./etcd/etcd-operations.ts";
import { createNodeHost } from "./host/node-host.ts";
import { createMachineService } from "./machine-service.ts";
import { type MetricsServer, startMetricsServer } from "./metrics-server.ts";
import { parsedConfig } from "./parsed-config.ts";
import {
  agentResources,
  type ConfigRecord,
  describeDefinition,
  EtcdStatus,
  etcdStatusId,
  type MachineStage,
  MachineStatus,
  machineStatusId,
} from "./resources/index.ts";
import { LogBuffer } from "./services/log-buffer.ts";
import { createSupervisor, type Supervisor } from "./services/supervisor.ts";
import { configuredTls, maintenanceTls, type ServerTls } from "./tls-material.ts";

export interface AgentOptions {
  readonly stateDir: string;
  /** The API listener; from the config (MachineConfig.api) when absent, else 0.0.0.0:50000. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** A config file applied at start when it differs from the stored one. */
  readonly configPath?: string;
  /** null: no metrics endpoint. Default 127.0.0.1:9101. */
  readonly metricsListen?: { readonly host: string; readonly port: number } | null;
  /** Which host the agent manages: decides validation and what reboot does. Default host. */
  readonly mode?: ValidationMode;
  readonly version: string;
  readonly logLevel?: string;
  /** Extra log destination besides the state dir's log file (stderr for the CLI). */
  readonly logStream?: NodeJS.WritableStream;
  /** How many past configs `config history` keeps; default 20. */
  readonly configHistoryLimit?: number;
  /**
   * How often operator controllers re-read what they own and repair drift; default 1 s, so that
   * drift is repaired within about a second (each check reads a few files and runs `ip -json`).
   */
  readonly driftCheckMs?: number;
  /**
   * An upgrade (or a reboot with one staged) needs the agent started again from the slot now
   * current: everything is stopped, then this is called; the process should exit with
   * `restartExitCode` for its init to start it again. Without it, upgrades are refused.
   */
  readonly onRestart?: () => void;
  /**
   * A Shutdown asked for by the API has stopped everything (on a host Plinth does not own): the
   * process should exit. `<stateDir>/shutdown` then marks that it must not be started again.
   */
  readonly onShutdown?: () => void;
}

/** Written by a Shutdown on a host Plinth does not own: the node's init must not restart the agent. */
export const shutdownMarker = "shutdown";

export const defaultDriftCheckMs = 1000;

export interface Agent {
  start(): Promise<void>;
  /** Stops controllers, then services in dependency order, then the API. */
  stop(): Promise<void>;
  /** The API's port (after start). */
  readonly apiPort: number;
  readonly metricsPort: number | undefined;
  readonly maintenance: boolean;
  /** Resolves when a reboot or reset asked for by the API has brought the agent back. */
  readonly restarts: number;
}

const defaultListen = { host: "0.0.0.0", port: 50000 };

/** One boot of the agent: everything that a reboot tears down and builds again. */
interface Boot {
  readonly state: State;
  readonly runtime: ControllerRuntime;
  readonly supervisor: Supervisor;
  /** Clients of etcd members (control planes), closed with the boot. */
  readonly etcdClients: EtcdClients;
  readonly etcd: EtcdOperations;
  /** Applies configs; owns the countdown of a config being tried. */
  readonly applier: ConfigApplier;
  server?: ApiServer;
  maintenance: boolean;
  /** What the running API server was built from: a new config restarts it only when this changes. */
  serverBasis?: string;
}

/**
 * The agent: the durable state, the controllers, the supervised services and the machine API.
 * A reboot (on a host Plinth does not own) or a reset restarts all of it inside the process.
 */
export function createAgent(options: AgentOptions): Agent {
  const mode = options.mode ?? "host";
  const agentLog = new LogBuffer({ capacity: 5000 });
  const streams: pino.StreamEntry[] = [{ stream: { write: (s: string) => agentLog.write(s) } }];
  // Each stream gets the agent's level: a multistream entry without one takes info.
  if (options.logStream)
    streams.push({ level: (options.logLevel ?? "info") as pino.Level, stream: options.logStream });
  const logFile = join(options.stateDir, "logs", "agent.log");
  let log: Logger = pino({ level: options.logLevel ?? "info" }, pino.multistream(streams));
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: "plinth_agent_" });
  const registry = createRegistry(agentResources);
  const stoppedByUser = new Set<string>();
  /** What operator controllers change: this machine, from the root. */
  const host = createNodeHost();
  let boot: Boot | undefined;
  let metricsServer: MetricsServer | undefined;
  let apiPort = 0;
  let restarts = 0;
  /** Set during a reset: the discovery record goes with the machine's state. */
  let leavingCluster = false;
  let transition: Promise<void> = Promise.resolve();
  const upgrades = createAgentUpgrades({
    stateDir: options.stateDir,
    version: options.version,
    log: () => log,
  });
  /** Stops the new agent's wait for health (at shutdown). */
  let upgradeWatch: AbortController | undefined;

  function listenFor(configYaml: string | undefined): { host: string; port: number } {
    if (options.listen) return options.listen;
    if (!configYaml) return defaultListen;
    const mc = parsedConfig(configYaml, mode).find("MachineConfig");
    return mc ? { host: mc.api.listenAddress, port: mc.api.port } : defaultListen;
  }

  async function startServer(b: Boot): Promise<void> {
    const record = await currentConfig(b.state);
    const listen = listenFor(record?.yaml);
    b.maintenance = !record?.complete;
    b.serverBasis = serverBasis(record);
    let tls: ServerTls;
    if (b.maintenance) tls = await maintenanceTls();
    else {
      tls = await configuredTls(parsedConfig(record!.yaml, mode), listen.host, {
        keepIn: join(options.stateDir, "api-certificate.json"),
      });
    }
    const ops = machineOperations(b, b.maintenance ? undefined : { ...tls, ca: tls.ca!, listen });
    b.server = await createApiServer({
      listen,
      maintenance: b.maintenance,
      tls: b.maintenance
        ? { cert: tls.cert, key: tls.key, requestClientCert: false }
        : { cert: tls.cert, key: tls.key, ca: tls.ca!, requestClientCert: true },
      ...(b.maintenance
        ? {}
        : { fanout: { tls: { cert: tls.cert, key: tls.key, ca: tls.ca! }, defaultPort: listen.port } }),
      routes: (router) => {
        router.service(MachineService, createMachineService(ops));
        router.service(ResourceService, createResourceService({ state: b.state, registry }));
      },
    });
    apiPort = b.server.port;
    await writeMachineStatus(b, b.maintenance ? "maintenance" : "running");
    log.info(
      {
        listen: `${listen.host}:${b.server.port}`,
        maintenance: b.maintenance,
        revision: record?.revision ?? 0,
      },
      b.maintenance
        ? "machine API listening in maintenance mode (TLS, no client auth)"
        : "machine API listening (mTLS)",
    );
  }

  function serverBasis(record: ConfigRecord | undefined): string {
    if (!record?.complete) return "maintenance";
    const mc = parsedConfig(record.yaml, mode).get("MachineConfig");
    return JSON.stringify([mc.api, mc.trust, listenFor(record.yaml)]);
  }

  async function writeMachineStatus(b: Boot, stage: MachineStage) {
    const record = await currentConfig(b.state);
    const machineType = record?.complete
      ? parsedConfig(record.yaml, mode).get("MachineConfig").type
      : "unknown";
    await b.state.upsert(
      MachineStatus.ptr(machineStatusId),
      (d) => {
        d.spec = { stage, configRevision: record?.revision ?? 0, machineType, agentVersion: options.version };
      },
      {
        owner: "agent",
        initial: () => ({ stage, configRevision: 0, machineType, agentVersion: options.version }),
      },
    );
  }

  /** What a stored config needs beyond the controllers, after the reply has gone out. */
  function configStored(b: Boot, record: ConfigRecord, effects: { restart: boolean }): void {
    if (effects.restart) {
      schedule(() => restartAgent(b, "a changed config field needs it"));
      return;
    }
    // Leaving maintenance mode, new trust material or a new listener: serve again with the new
    // set-up. Other changes leave open calls alone.
    if (serverBasis(record) !== b.serverBasis) schedule(() => restartServer(b));
    else void writeMachineStatus(b, b.maintenance ? "maintenance" : "running");
  }

  /** The config controllers: pure functions of the config (also run on a scratch state for dry runs). */
  function configControllers(): Controller[] {
    return [
      createServiceConfigController({ mode }),
      // A local agent (a process on someone's machine) must never touch that machine.
      ...(mode === "local" ? [] : createHostConfigControllers({ mode })),
      createEtcdConfigController({
        mode,
        stateDir: options.stateDir,
        ...(options.listen ? { listenHost: options.listen.host } : {}),
      }),
      createMeshConfigController({ mode }),
    ];
  }

  function machineOperations(
    b: Boot,
    node: { cert: string; key: string; ca: string; listen: { host: string; port: number } } | undefined,
  ) {
    return {
      applier: b.applier,
      supervisor: b.supervisor,
      stoppedByUser,
      agentLog,
      version: { tag: options.version },
      isMaintenance: () => b.maintenance,
      servicesChanged: () => b.runtime.trigger(serviceControllerName),
      etcd: b.etcd,
      async upgrade(req: UpgradeRequest) {
        if (!options.onRestart) {
          throw new PlinthError(
            "failed_precondition",
            "Upgrade: this agent runs without an init that starts it again; run it from the node's init or systemd",
          );
        }
        const accepted = await upgrades.install(req, {
          guard: () => b.etcd.guard("upgrade", { force: req.force }),
          defaultTimeoutMs: await upgradeTimeoutMs(b),
          state: b.state,
          etcdHealthy: !!(await etcdStatusOf(b))?.spec.healthy,
        });
        if (!req.stage) schedule(() => restartProcess("upgrade"));
        return accepted;
      },
      async reboot(o: { force: boolean }) {
        const warnings = await b.etcd.guard("reboot", o);
        schedule(() => reboot());
        return warnings;
      },
      async reset(o: { graceful: boolean; reboot: boolean; force: boolean }) {
        const warnings = await b.etcd.guard("reset", o);
        // Gracefully: leave the etcd cluster first, so that it does not keep a dead member.
        if (o.graceful) {
          await b.etcd.leaveForReset().catch((err: Error) => {
            if (!o.force) throw err;
            warnings.push(`--force: could not leave the etcd cluster: ${err.message}`);
          });
        }
        const etcdDirs = await b.etcd.dataDirs();
        schedule(() => reset(o.graceful, etcdDirs));
        return warnings;
      },
      async shutdown(o: { force: boolean }) {
        const warnings = await b.etcd.guard("shutdown", o);
        schedule(() => powerOff());
        return warnings;
      },
      healthCheck(req: HealthCheckRequest, caller: Uint8Array, signal: AbortSignal) {
        if (!node)
          throw new PlinthError("failed_precondition", "HealthCheck: the machine is in maintenance mode");
        return serveHealthCheck(req, {
          caller,
          tls: node,
          defaultPort: node.listen.port,
          clusterNodes: () => clusterNodes(b.state, node.listen.host),
          signal,
        });
      },
      history: (limit: number) => configHistory(b.state, limit),
      issueClientConfig: (o: { roles: readonly string[]; name: string; ttlMs: number }) =>
        issueClientConfig(b, o),
    };
  }

  async function issueClientConfig(b: Boot, o: { roles: readonly string[]; name: string; ttlMs: number }) {
    if (o.roles.length === 0)
      throw new PlinthError("invalid_argument", "IssueClientConfig: 'roles' must name at least one role");
    for (const r of o.roles) {
      if (!isRole(r)) {
        throw new PlinthError(
          "invalid_argument",
          `IssueClientConfig: unknown role '${r}' (os:admin, os:operator, os:reader, os:etcd:backup)`,
        );
      }
    }
    const record = await currentConfig(b.state);
    const ca = record?.complete ? parsedConfig(record.yaml, mode).get("MachineConfig").trust.ca : undefined;
    if (!ca?.key) {
      throw new PlinthError(
        "failed_precondition",
        "this machine has no API CA key (only control planes do): ask a control plane",
      );
    }
    const name = o.name || o.roles.join("-").replaceAll(":", "-");
    const cert = await issueCert({
      ca: { crt: ca.crt, key: ca.key },
      subject: name,
      organization: [...o.roles],
      usage: "client",
      validity: o.ttlMs,
    });
    return stringifyClientConfig({
      context: name,
      contexts: { [name]: clientContext({ endpoints: [], ca: ca.crt, crt: cert.crt, key: cert.key }) },
    });
  }

  /** Runs a transition after the current call has been answered, one at a time. */
  function schedule(fn: () => Promise<void>): void {
    transition = transition
      .then(() => new Promise((r) => setTimeout(r, 100)))
      .then(fn)
      .catch((err) => log.error({ err }, "machine transition failed"));
  }

  async function restartServer(b: Boot): Promise<void> {
    if (boot !== b) return;
    await b.server?.close();
    await startServer(b);
  }

  async function bootUp(): Promise<void> {
    await mkdir(join(options.stateDir, "logs"), { recursive: true });
    const state = wrapCore(
      withValidation(createSqliteState({ path: join(options.stateDir, "state.db") }), registry),
    );
    const runtime = createControllerRuntime({ state, logger: log, metricsRegistry: metrics });
    const supervisor = createSupervisor({
      logDir: join(options.stateDir, "logs"),
      onChange: () => runtime.trigger(serviceControllerName),
    });
    const etcdClients = createEtcdClients();
    const bootId = randomUUID();
    const etcd = createEtcdOperations({ state, clients: etcdClients, supervisor, log, bootId });
    const applier = createConfigApplier({
      state,
      mode,
      ...(options.configHistoryLimit !== undefined ? { historyLimit: options.configHistoryLimit } : {}),
      previewControllers: configControllers,
      beforeRestart: () => etcd.guard("reboot", { force: false }),
      onStored: (record, effects) => configStored(b, record, effects),
      log,
    });
    const b: Boot = { state, runtime, supervisor, etcdClients, etcd, applier, maintenance: true };
    boot = b;
    if (options.configPath) {
      await applyConfigFile(b, options.configPath);
      log.debug({ path: options.configPath }, "start-up config loaded");
    }
    // A staged config takes effect now; a config being tried resumes its countdown.
    await applier.resume();
    await publishDefinitions(state);
    await clearEtcdLeft(state);
    runtime.register(
      ...configControllers(),
      createServiceController({ supervisor, stoppedByUser }),
      ...(mode === "local"
        ? []
        : createHostOperatorControllers({ host, driftCheckMs: options.driftCheckMs ?? defaultDriftCheckMs })),
      createEtcdController({
        clients: etcdClients,
        etcdBinary: findEtcdBinary,
        runningPid: () => supervisor.list().find((s) => s.id === "etcd")?.pid,
      }),
      createEtcdMemberController({ clients: etcdClients, bootId }),
      ...createDiagnosticControllers({ stateDir: options.stateDir, etcdClients }),
      createDiscoveryController({
        mode,
        version: options.version,
        ...(options.listen ? { listenHost: options.listen.host } : {}),
        trigger: () => runtime.trigger(discoveryControllerName),
        leaving: () => leavingCluster,
      }),
      createMeshIdentityController({ mode }),
      createMeshPeerSpecController(),
      // The mesh changes links, rules and nftables: never on the machine of a local agent.
      ...(mode === "local" ? [] : [createMeshOperatorController({ host })]),
      // Binds 127.0.0.1:7445: not for local agents, several of which may share one host.
      ...(mode === "local"
        ? []
        : [
            createApiBalancerConfigController({ mode }),
            createApiBalancerController({
              registry: metrics,
              trigger: () => runtime.trigger(apiBalancerControllerName),
            }),
          ]),
    );
    await runtime.start();
    log.debug("controllers started");
    await startServer(b);
    await upgrades.publish(state);
    upgradeWatch = new AbortController();
    void upgrades
      .confirmWhenHealthy(state, (o) => upgradeProblem(b, o), upgradeWatch.signal)
      .catch((err) => log.error({ err }, "upgrade health watch failed"));
  }

  async function upgradeTimeoutMs(b: Boot): Promise<number> {
    const record = await currentConfig(b.state);
    const text = record?.complete
      ? parsedConfig(record.yaml, mode).get("MachineConfig").install.healthTimeout
      : "2m";
    return parseDuration(text) ?? 120_000;
  }

  /** This node's etcd member as last observed; undefined before the first observation (or without etcd). */
  function etcdStatusOf(b: Boot) {
    return b.state.get(EtcdStatus.ptr(etcdStatusId)).catch((err: unknown) => {
      if (hasCode(err, "not_found")) return undefined;
      throw err;
    });
  }

  /** What keeps the new agent of an upgrade from being healthy; undefined: nothing. */
  async function upgradeProblem(b: Boot, o: { requireEtcd: boolean }): Promise<string | undefined> {
    if (boot !== b || !b.server) return "the machine API is not serving yet";
    if (b.maintenance) return "the machine is in maintenance mode";
    const failing = b.runtime.failing();
    if (failing.length > 0) {
      return `controllers not converged: ${failing.map((f) => `${f.name} (${f.error})`).join("; ")}`;
    }
    if (o.requireEtcd) {
      const st = await etcdStatusOf(b);
      if (!st?.spec.healthy) {
        return `etcd member not healthy${st?.spec.errors.length ? ` (${st.spec.errors.join(", ")})` : ""}`;
      }
    }
    return undefined;
  }

  /** Stops everything; the process's init starts the agent again from the slot now current. */
  async function restartProcess(why: string): Promise<void> {
    log.info({ why }, "restarting the agent process: its init starts it again from the current slot");
    await boot?.etcd.beforeShutdown();
    await shutDown();
    options.onRestart?.();
  }

  async function publishDefinitions(state: State): Promise<void> {
    // All at once: the durable state commits writes of one turn together (one fsync, not 30).
    await Promise.all(
      registry.list().map((def) => {
        const desc = describeDefinition(def);
        return state.upsert(
          { ...desc.metadata },
          (d) => {
            d.spec = desc.spec;
          },
          { owner: "agent", initial: () => desc.spec },
        );
      }),
    );
  }

  async function applyConfigFile(b: Boot, path: string): Promise<void> {
    const text = await readFile(path, "utf8").catch((err) => {
      throw new PlinthError("not_found", `--config: cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    const result = loadConfig(text, { mode, partial: true });
    if (!result.ok) throw configError(result.issues, path);
    const current = await currentConfig(b.state);
    if (current?.yaml === text) return;
    const complete = !!result.bundle.find("MachineConfig") && !!result.bundle.find("ClusterConfig");
    await storeConfig(
      b.state,
      { yaml: text, complete, mode: "startup", appliedBy: `--config ${path}` },
      options.configHistoryLimit !== undefined ? { historyLimit: options.configHistoryLimit } : {},
    );
  }

  async function shutDown(graceful = true): Promise<void> {
    const b = boot;
    if (!b) return;
    boot = undefined;
    upgradeWatch?.abort();
    b.applier.close();
    await writeMachineStatus(b, "stopping").catch(() => {});
    await b.runtime.stop();
    if (graceful) await b.supervisor.stopAll();
    else await Promise.all(b.supervisor.list().map((s) => b.supervisor.remove(s.id)));
    b.etcdClients.close();
    await b.server?.close();
    await b.state.close();
  }

  async function reboot(): Promise<void> {
    // A staged upgrade takes effect at a reboot: here the process must start again.
    if (mode !== "host" && options.onRestart && (await upgrades.stagedPending())) {
      await restartProcess("reboot with a staged upgrade");
      return;
    }
    await boot?.etcd.beforeShutdown();
    if (mode === "host") {
      log.warn("rebooting the machine through systemd");
      await shutDown();
      const { execFile } = await import("node:child_process");
      execFile("systemctl", ["reboot"]);
      return;
    }
    log.info("reboot: restarting the agent and its services");
    await shutDown();
    restarts++;
    await bootUp();
  }

  /**
   * Shutdown: leadership away, services stopped in order. A host Plinth owns powers off; otherwise
   * the agent marks its state dir (so that the node's init does not start it again) and exits.
   */
  async function powerOff(): Promise<void> {
    await boot?.etcd.beforeShutdown();
    if (mode === "host") {
      log.warn("shutting the machine down through systemd");
      await shutDown();
      const { execFile } = await import("node:child_process");
      execFile("systemctl", ["poweroff"]);
      return;
    }
    log.warn("shutdown: services stopped; the agent exits and stays down");
    await shutDown();
    await writeFile(join(options.stateDir, shutdownMarker), `${new Date().toISOString()}\n`);
    options.onShutdown?.();
  }

  /** Stops everything and starts again in this process: what config fields that need a restart get. */
  async function restartAgent(b: Boot, why: string): Promise<void> {
    if (boot !== b) return;
    log.info({ why }, "restarting the agent and its services");
    await b.etcd.beforeShutdown();
    await shutDown();
    restarts++;
    await bootUp();
  }

  async function reset(graceful: boolean, etcdDirs: readonly string[]): Promise<void> {
    log.warn({ graceful }, "reset: stopping services and wiping the machine state");
    leavingCluster = true;
    await boot?.etcd.beforeShutdown();
    await shutDown(graceful);
    for (const f of ["state.db", "state.db-wal", "state.db-shm", "api-certificate.json"])
      await rm(join(options.stateDir, f), { force: true });
    for (const dir of [...etcdDirs, join(options.stateDir, "etcd")])
      await rm(dir, { recursive: true, force: true });
    stoppedByUser.clear();
    leavingCluster = false;
    restarts++;
    await bootUp();
  }

  return {
    async start() {
      await mkdir(join(options.stateDir, "logs"), { recursive: true });
      log = pino(
        { level: options.logLevel ?? "info" },
        pino.multistream([
          ...streams,
          {
            level: (options.logLevel ?? "info") as pino.Level,
            stream: pino.destination({ dest: logFile, append: true, sync: false }),
          },
        ]),
      );
      // Started again (by hand) after a shutdown: the mark has done its job.
      await rm(join(options.stateDir, shutdownMarker), { force: true });
      await bootUp();
      if (options.metricsListen !== null) {
        metricsServer = await startMetricsServer(
          metrics,
          options.metricsListen ?? { host: "127.0.0.1", port: 9101 },
        );
      }
    },
    async stop() {
      await transition;
      // A signal cannot be refused: warn when etcd loses its quorum, hand leadership over (bounded).
      await boot?.etcd.beforeStop(5000);
      await shutDown();
      await metricsServer?.close();
      agentLog.close();
      log.flush();
    },
    get apiPort() {
      return apiPort;
    },
    get metricsPort() {
      return metricsServer?.port;
    },
    get maintenance() {
      return boot?.maintenance ?? true;
    },
    get restarts() {
      return restarts;
    },
  };
}
