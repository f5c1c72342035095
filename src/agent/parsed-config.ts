import type { ValidationMode } from "../config/checks/check-context.ts";
import type { ConfigBundle } from "../config/config-bundle.ts";
import { configError } from "../config/config-issue.ts";
import { loadConfig } from "../config/load-config.ts";

let last: { yaml: string; mode: ValidationMode; bundle: ConfigBundle } | undefined;

/**
 * The stored config as typed documents. Config controllers all read the same text, so the
 * last parse is kept.
 */
export function parsedConfig(yaml: string, mode: ValidationMode): ConfigBundle {
  if (last && last.yaml === yaml && last.mode === mode) return last.bundle;
  const result = loadConfig(yaml, { mode, partial: true });
  if (!result.ok) throw configError(result.issues, "stored config");
  last = { yaml, mode, bundle: result.bundle };
  return result.bundle;
}

/**
 * Remembers a config parsed elsewhere (the applier validated it just now), so that the config
 * controllers that read it next do not parse it again.
 */
export function rememberParsedConfig(yaml: string, mode: ValidationMode, bundle: ConfigBundle): void {
  last = { yaml, mode, bundle };
}
