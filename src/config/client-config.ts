import { stringify } from "yaml";
import { z } from "zod";
import { PlinthError } from "../errors/plinth-error.ts";
import { fromBase64, toBase64 } from "../pki/encoding.ts";
import { decodePemBlocks } from "../pki/pem.ts";
import { configError } from "./config-issue.ts";
import { parseConfigText } from "./parse-config-text.ts";
import { describeZodIssue, toConfigIssues } from "./zod-issues.ts";

/** base64 of PEM text, as talosctl stores credentials. */
function base64Pem(label: string) {
  return z.string().refine(
    (v) => {
      const bytes = fromBase64(v);
      return !!bytes && decodePemBlocks(new TextDecoder().decode(bytes)).some((b) => b.label === label);
    },
    { message: `expected base64 of a PEM ${label}` },
  );
}

const contextSchema = z.strictObject({
  endpoints: z.array(z.string().min(1)).default([]).describe("API endpoints to dial, host or host:port"),
  nodes: z.array(z.string().min(1)).optional().describe("default target nodes"),
  ca: base64Pem("CERTIFICATE").describe("the API CA certificate, base64 PEM"),
  crt: base64Pem("CERTIFICATE").describe("the client certificate, base64 PEM"),
  key: base64Pem("PRIVATE KEY").describe("the client private key, base64 PEM"),
});

export const clientConfigSchema = z.strictObject({
  context: z.string().default("").describe("the current context"),
  contexts: z
    .record(
      z.string().regex(/^(?!__proto__$)\S+$/, { message: "expected a context name without spaces" }),
      contextSchema,
    )
    .default({})
    .describe("contexts by name"),
});

export type ClientContext = z.output<typeof contextSchema>;
export type ClientConfig = z.output<typeof clientConfigSchema>;

export function emptyClientConfig(): ClientConfig {
  return { context: "", contexts: {} };
}

/** A context's credentials from PEM text. */
export function clientContext(options: {
  endpoints: readonly string[];
  nodes?: readonly string[];
  ca: string;
  crt: string;
  key: string;
}): ClientContext {
  const enc = (pem: string) => toBase64(new TextEncoder().encode(pem));
  return {
    endpoints: [...options.endpoints],
    ...(options.nodes?.length ? { nodes: [...options.nodes] } : {}),
    ca: enc(options.ca),
    crt: enc(options.crt),
    key: enc(options.key),
  };
}

/** The PEM text of a base64 field of a context. */
export function decodeCredential(value: string): string {
  return new TextDecoder().decode(fromBase64(value) ?? new Uint8Array());
}

/** A context's CA, client certificate and key as PEM, in the shape TLS options take. */
export function contextTls(context: ClientContext): { ca: string; cert: string; key: string } {
  return {
    ca: decodeCredential(context.ca),
    cert: decodeCredential(context.crt),
    key: decodeCredential(context.key),
  };
}

/** Parses a client config; an empty text is an empty config. Throws invalid_argument naming `source`. */
export function parseClientConfig(text: string, source: string): ClientConfig {
  const parsed = parseConfigText(text);
  if (parsed.issues.length > 0) throw configError(parsed.issues, source);
  if (parsed.documents.length === 0) return emptyClientConfig();
  if (parsed.documents.length > 1) {
    throw new PlinthError(
      "invalid_argument",
      `${source}: expected one YAML document, found ${parsed.documents.length}`,
    );
  }
  const doc = parsed.documents[0]!;
  const result = clientConfigSchema.safeParse(doc.value, { reportInput: true, error: describeZodIssue });
  if (!result.success) {
    const issues = toConfigIssues(result.error.issues, { document: 1, kind: "plinthconfig" }).map((i) => ({
      ...i,
      line: doc.lineOf?.(i.path),
    }));
    throw configError(issues, source);
  }
  return result.data;
}

export function stringifyClientConfig(config: ClientConfig): string {
  return stringify(config, { lineWidth: 0 });
}

function requireContext(config: ClientConfig, name: string | undefined): string {
  const selected = name ?? config.context;
  if (!selected) {
    throw new PlinthError(
      "failed_precondition",
      "no current context; choose one with 'plinth config context NAME'",
    );
  }
  if (!Object.hasOwn(config.contexts, selected)) {
    const known = Object.keys(config.contexts);
    throw new PlinthError(
      "not_found",
      `context ${JSON.stringify(selected)} is not in the client config` +
        (known.length ? `; known: ${known.join(", ")}` : "; it has no contexts"),
    );
  }
  return selected;
}

/** The selected (or current) context with its name; throws when there is none. */
export function selectContext(config: ClientConfig, name?: string): { name: string; context: ClientContext } {
  const selected = requireContext(config, name);
  return { name: selected, context: config.contexts[selected]! };
}

export function useContext(config: ClientConfig, name: string): ClientConfig {
  return { ...config, context: requireContext(config, name) };
}

function withContext(
  config: ClientConfig,
  name: string | undefined,
  change: Partial<ClientContext>,
): ClientConfig {
  const selected = requireContext(config, name);
  const contexts = { ...config.contexts };
  Object.defineProperty(contexts, selected, {
    value: { ...config.contexts[selected]!, ...change },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return { ...config, contexts };
}

export function setEndpoints(
  config: ClientConfig,
  endpoints: readonly string[],
  name?: string,
): ClientConfig {
  return withContext(config, name, { endpoints: [...endpoints] });
}

export function setNodes(config: ClientConfig, nodes: readonly string[], name?: string): ClientConfig {
  return withContext(config, name, { nodes: [...nodes] });
}

export interface ContextRename {
  readonly from: string;
  readonly to: string;
}

/**
 * Adds every context of `from` to `into`; a name already taken gets the first free `-1`, `-2`, …
 * suffix. The current context becomes `from`'s current context (under its new name).
 */
export function mergeClientConfig(
  into: ClientConfig,
  from: ClientConfig,
): { config: ClientConfig; renames: ContextRename[] } {
  const contexts: Record<string, ClientContext> = { ...into.contexts };
  const renames: ContextRename[] = [];
  const mapped = new Map<string, string>();
  for (const [name, ctx] of Object.entries(from.contexts)) {
    let target = name;
    for (let i = 1; Object.hasOwn(contexts, target); i++) target = `${name}-${i}`;
    if (target !== name) renames.push({ from: name, to: target });
    mapped.set(name, target);
    Object.defineProperty(contexts, target, {
      value: ctx,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const context = from.context ? (mapped.get(from.context) ?? into.context) : into.context;
  return { config: { context, contexts }, renames };
}
