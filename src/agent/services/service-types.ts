export type RestartPolicy = "always" | "on-failure" | "never";

export interface HealthCheck {
  /** A command that exits 0 when the service is healthy. */
  readonly exec?: readonly string[];
  /** host:port that accepts a TCP connection when the service is healthy. */
  readonly tcp?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

export interface ServiceDefinition {
  readonly id: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly restart?: RestartPolicy;
  /** Services that must be running (and healthy, when they have a check) first. */
  readonly dependsOn?: readonly string[];
  readonly health?: HealthCheck;
  /** Time between SIGTERM and SIGKILL on stop; default 10 s. */
  readonly stopTimeoutMs?: number;
}

export type ServiceState =
  | "waiting"
  | "starting"
  | "running"
  | "stopping"
  | "stopped"
  | "backoff"
  | "finished"
  | "failed";

export interface ServiceStatus {
  readonly id: string;
  readonly state: ServiceState;
  readonly pid?: number;
  readonly healthy?: boolean;
  readonly restarts: number;
  readonly lastExit?: { readonly code: number | null; readonly signal: string | null; readonly at: string };
  /** Why it is in this state, for `plinth services`. */
  readonly message: string;
}
