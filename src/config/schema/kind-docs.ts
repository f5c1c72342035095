import type { KindDefinition } from "../kind-definition.ts";
import { configKinds } from "../kinds/index.ts";
import { type JsonSchema, kindJsonSchema } from "./json-schemas.ts";

/** Markers around the generated part of docs/config.md. */
export const docsBegin = "<!-- BEGIN GENERATED: document kinds (node scripts/gen-schema.ts) -->";
export const docsEnd = "<!-- END GENERATED: document kinds -->";

interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `\`${String(v)}\``).join(" | ");
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).map(typeOf).join(" or ");
  const type = schema.type;
  if (type === "array") return `list of ${typeOf((schema.items as JsonSchema) ?? {})}`;
  if (type === "object")
    return schema.properties
      ? "mapping"
      : `map of ${typeOf((schema.additionalProperties as JsonSchema) ?? {})}`;
  return typeof type === "string" ? type : "any";
}

function rows(schema: JsonSchema, prefix: string, out: FieldRow[]): FieldRow[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  for (const [name, field] of Object.entries(properties)) {
    if (prefix === "" && (name === "apiVersion" || name === "kind")) continue;
    const path = `${prefix}${name}`;
    out.push({
      path,
      type: typeOf(field),
      required: required.has(name),
      default: field.default,
      description: String(field.description ?? ""),
    });
    if (field.type === "object" && field.properties) rows(field, `${path}.`, out);
    const items = field.items as JsonSchema | undefined;
    if (field.type === "array" && items?.type === "object" && items.properties)
      rows(items, `${path}[].`, out);
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function renderDefault(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "object" && value !== null && Object.keys(value).length === 0) {
    return Array.isArray(value) ? "`[]`" : "`{}`";
  }
  return `\`${JSON.stringify(value)}\``;
}

function renderKind(def: KindDefinition): string {
  const schema = kindJsonSchema(def);
  const table = rows(schema, "", []).map(
    (r) =>
      `| \`${r.path}\` | ${cell(r.type)} | ${r.required ? "yes" : ""} | ${renderDefault(r.default)} | ${cell(r.description)} |`,
  );
  const keys = Object.entries(def.listKeys).map(([list, key]) => `\`${list}\` by \`${key}\``);
  const facts = [
    def.repeatable ? "Repeatable: one document per `name`." : "At most one per config.",
    keys.length > 0 ? `Strategic merge patches merge ${keys.join(", ")}.` : "",
    `JSON Schema: [schema/${def.kind}.json](schema/${def.kind}.json).`,
  ].filter(Boolean);
  return [
    `### ${def.kind}`,
    "",
    def.description,
    "",
    facts.join(" "),
    "",
    "```yaml",
    def.example.trimEnd(),
    "```",
    "",
    "| field | type | required | default | description |",
    "|---|---|---|---|---|",
    ...table,
  ].join("\n");
}

/** The generated part of docs/config.md: every kind with its example and field table. */
export function renderKindDocs(): string {
  return [docsBegin, "", ...configKinds.map((def) => `${renderKind(def as KindDefinition)}\n`), docsEnd].join(
    "\n",
  );
}

/** Puts the generated part between the markers of `markdown`; throws when they are missing. */
export function replaceGeneratedSection(markdown: string, generated: string): string {
  const start = markdown.indexOf(docsBegin);
  const end = markdown.indexOf(docsEnd);
  if (start < 0 || end < start) {
    throw new TypeError(`Cannot update docs: the markers '${docsBegin}' and '${docsEnd}' are missing`);
  }
  return markdown.slice(0, start) + generated + markdown.slice(end + docsEnd.length);
}
