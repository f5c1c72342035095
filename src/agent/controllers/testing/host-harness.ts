import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { promisify } from "node:util";
import type { AnyController } from "../../../runtime/controller/controller.ts";
import {
  type ControllerRuntime,
  createControllerRuntime,
} from "../../../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../../../runtime/resource/registry.ts";
import type { Pointer, Resource } from "../../../runtime/resource/resource.ts";
import { createMemoryState } from "../../../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../../../runtime/state/state.ts";
import { withValidation } from "../../../runtime/state/validating-state.ts";
import { createSandbox, type Sandbox } from "../../../testing/sandbox.ts";
import { storeConfig } from "../../config-store.ts";
import type { ConnectedHost } from "../../host/host-wire.ts";
import { agentResources } from "../../resources/index.ts";
import type { OperatorOptions } from "../internal/operator-options.ts";

/**
 * Controllers under test run in this process, on an in-memory state, with a real Host whose
 * effects land in a sandbox: the production Node host adapter runs in a process inside the
 * sandbox's namespaces (private network, UTS and mount namespaces with a copy of /etc) and is
 * driven over a pipe (`Sandbox.startHost`). So hostname, /etc files, net.* sysctls, links,
 * addresses and routes are real, and the machine running the tests never sees them.
 */
export interface HostHarness {
  readonly box: Sandbox;
  readonly host: ConnectedHost;
  readonly state: State;
  readonly runtime: ControllerRuntime;
  /** Stores `yaml` as the machine's config (the next revision), as apply-config does. */
  apply(yaml: string): Promise<void>;
  /** The resource once `predicate` holds for it (undefined: absent); fails after `ms`. */
  waitFor<S>(
    ptr: Pointer<S>,
    predicate: (r: Resource<S> | undefined) => boolean,
    ms?: number,
  ): Promise<Resource<S> | undefined>;
  /** Runs a shell script inside the sandbox; stdout, or an error naming the script on failure. */
  sh(script: string): Promise<string>;
  close(): Promise<void>;
}

export interface HostHarnessOptions {
  readonly name: string;
  readonly controllers: (options: OperatorOptions) => AnyController[];
  /** Default 60 s: tests ask for a drift check with `runtime.trigger` instead of waiting. */
  readonly driftCheckMs?: number;
}

export async function createHostHarness(options: HostHarnessOptions): Promise<HostHarness> {
  const box = await createSandbox({ name: options.name });
  let host: ConnectedHost | undefined;
  try {
    host = await box.startHost();
  } catch (err) {
    await box.destroy();
    throw err;
  }
  const state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
  const runtime = createControllerRuntime({ state, backoff: { initialMs: 50, maxMs: 500, jitter: 0 } });
  runtime.register(...options.controllers({ host, driftCheckMs: options.driftCheckMs ?? 60_000 }));
  await runtime.start();
  const connected = host;
  return {
    box,
    host: connected,
    state,
    runtime,
    async apply(yaml) {
      await storeConfig(state, { yaml, complete: false, mode: "auto", appliedBy: "test" });
    },
    waitFor(ptr, predicate, ms = 10_000) {
      return state.waitFor(ptr, predicate, { signal: AbortSignal.timeout(ms) });
    },
    async sh(script) {
      const r = await box.exec("sh", ["-c", script]);
      if (r.code !== 0) throw new Error(`in sandbox: '${script}' exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async close() {
      await runtime.stop();
      await state.close();
      connected.close();
      await box.destroy();
    },
  };
}

export interface MachineWatch {
  readonly files?: readonly string[];
  readonly sysctls?: readonly string[];
  /** Link names that must not exist on the machine. */
  readonly links?: readonly string[];
  /** Texts (addresses, route prefixes) that must not appear in the machine's addresses or routes. */
  readonly addresses?: readonly string[];
}

/**
 * What the tests could have changed on the machine running them, read directly (outside any
 * sandbox): compare a snapshot from before with one from after.
 */
export async function snapshotMachine(watch: MachineWatch = {}): Promise<Record<string, unknown>> {
  const run = promisify(execFile);
  const read = (path: string) => readFile(path, "utf8").catch(() => "(missing)");
  const files = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", ...(watch.files ?? [])];
  const sysctls = ["net.ipv4.ip_forward", ...(watch.sysctls ?? [])];
  const links = (await run("ip", ["-json", "link", "show"])).stdout;
  const network = `${(await run("ip", ["-json", "address", "show"])).stdout}${(await run("ip", ["-json", "-4", "route", "show", "table", "all"])).stdout}${(await run("ip", ["-json", "-6", "route", "show", "table", "all"])).stdout}`;
  const names = (JSON.parse(links) as { ifname: string }[]).map((l) => l.ifname);
  return {
    hostname: hostname(),
    files: Object.fromEntries(await Promise.all(files.map(async (f) => [f, await read(f)] as const))),
    sysctls: Object.fromEntries(
      await Promise.all(
        sysctls.map(async (k) => [k, await read(`/proc/sys/${k.replaceAll(".", "/")}`)] as const),
      ),
    ),
    links: (watch.links ?? []).filter((l) => names.includes(l)),
    addresses: (watch.addresses ?? []).filter((a) => network.includes(a)),
  };
}
