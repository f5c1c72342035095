import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How long after start-up the agent gives back the memory that start-up needed. */
export const releaseStartupMemoryAfterMs = 1000;

type Gc = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/**
 * Loading the agent's modules allocates far more than the agent keeps: V8 grows the young
 * generation to its maximum (2 × 16 MB) on the way and keeps it, though an idle agent's live heap
 * is about 20 MB. One memory-reducing collection once the agent is up shrinks the young
 * generation back and compacts the old one, as V8's memory reducer would do only after a long
 * idle spell: about 20 MB less resident memory. It pauses the process once (tens of ms), after
 * the API is serving; the young generation grows again if load needs it.
 */
export function releaseStartupMemory(): void {
  // The collection that reduces the footprint is only reachable through the gc() extension;
  // exposing it at run time adds gc() to new contexts only, so the agent's global stays as it is.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as Gc | undefined;
  if (typeof gc !== "function") return;
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** Schedules releaseStartupMemory(); the timer does not keep the process alive. */
export function scheduleStartupMemoryRelease(delayMs = releaseStartupMemoryAfterMs): void {
  setTimeout(releaseStartupMemory, delayMs).unref();
}
