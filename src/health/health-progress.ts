/** One line of `plinth health` progress, as the HealthCheck RPC streams it. */
export interface HealthProgress {
  /** The check; empty on the last message. */
  readonly check: string;
  readonly ok: boolean;
  /** The check's last attempt: passed, or failed at the deadline. */
  readonly final: boolean;
  readonly detail: string;
  /** The last message: `healthy` says whether every check passed. */
  readonly done: boolean;
  readonly healthy: boolean;
}
