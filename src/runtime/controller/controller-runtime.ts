import type { Logger } from "pino";
import { pino } from "pino";
import type { Registry } from "prom-client";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { State } from "../state/state.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { AnyController } from "./controller.ts";
import { isQueueController } from "./controller.ts";
import type { Runner } from "./controller-runner.ts";
import { createControllerRunner } from "./controller-runner.ts";
import type { DependencyGraph } from "./dependency-graph.ts";
import { dependencyGraph } from "./dependency-graph.ts";
import { createControllerMetrics } from "./metrics.ts";
import { createQueueRunner } from "./queue-runner.ts";

export interface ControllerRuntimeOptions {
  readonly state: State;
  readonly logger?: Logger;
  /** Where the per-controller metrics register; a fresh registry by default. */
  readonly metricsRegistry?: Registry;
  readonly backoff?: BackoffOptions;
}

export interface ControllerRuntime {
  /** Adds controllers; refuses a duplicate name or a second exclusive owner of an output type. */
  register(...controllers: AnyController[]): void;
  /** Starts every registered controller (and those registered later, at once). */
  start(): Promise<void>;
  /** Stops controllers consumers first, waiting for running reconciles. */
  stop(): Promise<void>;
  graph(): DependencyGraph;
  /**
   * Asks a controller to reconcile soon although none of its inputs changed: for operator
   * controllers told of host events (a process exited, a link went down).
   */
  trigger(name: string): void;
  /** Running controllers whose latest reconcile failed, with why: empty once they converged. */
  failing(): { readonly name: string; readonly error: string }[];
  readonly metrics: Registry;
}

export function createControllerRuntime(options: ControllerRuntimeOptions): ControllerRuntime {
  const log = options.logger ?? pino({ level: "silent" });
  const metrics = createControllerMetrics(options.metricsRegistry);
  const controllers: AnyController[] = [];
  const runners = new Map<string, Runner>();
  /** type → controllers writing it, with the kind each declared. */
  const writers = new Map<string, { name: string; kind: "exclusive" | "shared" }[]>();
  let started = false;

  function validate(c: AnyController): void {
    if (!c.name) throw new TypeError("Cannot register controller: 'name' must not be empty");
    if (controllers.some((o) => o.name === c.name)) {
      throw new PlinthError("already_exists", `controller ${c.name} is already registered`);
    }
    for (const out of c.outputs) {
      for (const w of writers.get(out.type) ?? []) {
        if (w.kind === "exclusive" || out.kind === "exclusive") {
          throw new PlinthError(
            "already_exists",
            `cannot register controller ${c.name}: output ${out.type} is already written by ${w.name} (${w.kind}), ${c.name} declares it ${out.kind}`,
          );
        }
      }
    }
  }

  function runnerFor(c: AnyController): Runner {
    const runnerOptions = { state: options.state, log, metrics, backoff: options.backoff };
    return isQueueController(c)
      ? createQueueRunner(c, runnerOptions)
      : createControllerRunner(c, runnerOptions);
  }

  const runtime: ControllerRuntime = {
    metrics: metrics.registry,
    register(...more) {
      for (const c of more) {
        validate(c);
        controllers.push(c);
        for (const out of c.outputs)
          writers.set(out.type, [...(writers.get(out.type) ?? []), { name: c.name, kind: out.kind }]);
        if (started) {
          const r = runnerFor(c);
          runners.set(c.name, r);
          void r.start();
        }
      }
    },
    async start() {
      if (started) return;
      started = true;
      for (const name of dependencyGraph(controllers).order) {
        const c = controllers.find((x) => x.name === name)!;
        const r = runnerFor(c);
        runners.set(c.name, r);
        await r.start();
      }
    },
    async stop() {
      started = false;
      for (const name of [...dependencyGraph(controllers).order].reverse()) {
        await runners.get(name)?.stop();
        runners.delete(name);
      }
    },
    graph: () => dependencyGraph(controllers),
    failing: () =>
      [...runners].flatMap(([name, r]) => {
        const error = r.failure();
        return error === undefined ? [] : [{ name, error }];
      }),
    trigger(name) {
      if (!controllers.some((c) => c.name === name)) {
        throw new PlinthError("not_found", `cannot trigger controller ${name}: it is not registered`);
      }
      runners.get(name)?.poke();
    },
  };
  return runtime;
}
