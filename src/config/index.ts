export type { ValidationMode } from "./checks/check-context.ts";
export { validationModes } from "./checks/check-context.ts";
export type { ClientConfig, ClientContext, ContextRename } from "./client-config.ts";
export {
  clientContext,
  decodeCredential,
  emptyClientConfig,
  mergeClientConfig,
  parseClientConfig,
  selectContext,
  setEndpoints,
  setNodes,
  stringifyClientConfig,
  useContext,
} from "./client-config.ts";
export type { ConfigBundle } from "./config-bundle.ts";
export { createConfigBundle } from "./config-bundle.ts";
export type { ConfigIssue } from "./config-issue.ts";
export { configError, formatIssue } from "./config-issue.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export { generateClientConfig } from "./generate/generate-client-config.ts";
export type { MachineType } from "./generate/generate-machine-config.ts";
export { generateMachineConfig } from "./generate/generate-machine-config.ts";
export type { MachineSecretsDocument } from "./generate/generate-secrets.ts";
export { generateSecrets } from "./generate/generate-secrets.ts";
export type { KindDefinition } from "./kind-definition.ts";
export type { ConfigDocument, DocumentOf, KindName } from "./kinds/index.ts";
export { configKinds, findKind, kindNames } from "./kinds/index.ts";
export type { LoadConfigOptions, LoadConfigResult } from "./load-config.ts";
export { loadConfig, validateConfigValues } from "./load-config.ts";
export type { ConfigPatch } from "./patch/config-patch.ts";
export { applyPatch, applyPatches, parsePatch } from "./patch/config-patch.ts";
export { stringifyDocuments } from "./stringify-config.ts";
