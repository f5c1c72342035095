import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Sandbox } from "../../testing/sandbox.ts";

/**
 * A process inside a sandbox holding test upstreams, a balancer and clients, so that the kernel
 * data path (nftables in the sandbox's network namespace) is exercised by connections made there.
 * `call(op, args)` runs one command of sandboxed-balancer-process.ts and returns its result.
 */
export interface SandboxedBalancer {
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
  /** SIGKILL, as a crash: nothing is cleaned up. */
  kill(): Promise<void>;
}

const script = fileURLToPath(new URL("./sandboxed-balancer-process.ts", import.meta.url));

export function startSandboxedBalancer(box: Sandbox): SandboxedBalancer {
  const child = box.spawn(process.execPath, ["--disable-warning=ExperimentalWarning", script], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const answer = JSON.parse(line) as { id: number; result?: unknown; error?: string };
    const w = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.error !== undefined) w?.reject(new Error(answer.error));
    else w?.resolve(answer.result);
  });
  child.once("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`sandboxed balancer exited with ${code}`));
    waiting.clear();
  });
  return {
    call<T>(op: string, args: Record<string, unknown> = {}) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin!.end();
      const force = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(force);
    },
  };
}
