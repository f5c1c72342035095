// How eagerly V8 optimizes while the agent starts. Start-up code runs once: loading the modules
// resolves hundreds of paths, and building the API's descriptors decodes ~23 KB of base64. At
// V8's defaults both get hot enough for its top tier (TurboFan), whose compiler then stays
// resident, ~5 MB of the node binary's pages, in an agent that goes idle right after. So until
// the agent is up, a function needs far more work before TurboFan takes it (Maglev, the tier
// below, works as usual); then V8's default is back, and code that is hot under load is
// optimized as anywhere else. Plain JavaScript: bin/plinth.js sets this before any TypeScript
// is loaded.
import { setFlagsFromString } from "node:v8";

/** Work (× a function's bytecode size) before TurboFan, while the agent starts. */
export const startupTurbofanInvocations = 100_000;

/** V8's own default for the Node.js this project pins (`node --v8-options`; a test checks it). */
export const defaultTurbofanInvocations = 3000;

export function beginStartupTiering() {
  setFlagsFromString(`--invocation-count-for-turbofan=${startupTurbofanInvocations}`);
}

export function endStartupTiering() {
  setFlagsFromString(`--invocation-count-for-turbofan=${defaultTurbofanInvocations}`);
}
