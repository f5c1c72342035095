import { z } from "zod";
import { apiVersion } from "./fields.ts";

/** One kind of config document: its schema, how it repeats, how patches merge its lists. */
export interface KindDefinition<K extends string = string, T = unknown> {
  readonly kind: K;
  /** One paragraph for docs/config.md and the JSON Schema. */
  readonly description: string;
  /** Repeatable kinds may appear many times, told apart by their `name`; others at most once. */
  readonly repeatable: boolean;
  readonly schema: z.ZodType<T>;
  /** A complete, valid example document (YAML), shown in docs/config.md and checked by tests. */
  readonly example: string;
  /**
   * Lists of objects that strategic merge patches merge by a key, by dot path (`files` → `path`).
   * Other lists of objects merge by `name` when their items have one; the rest are replaced.
   */
  readonly listKeys: Readonly<Record<string, string>>;
}

type DocumentShape<K extends string, S extends z.ZodRawShape> = {
  apiVersion: z.ZodLiteral<typeof apiVersion>;
  kind: z.ZodLiteral<K>;
} & S;

export type DocumentOutput<K extends string, S extends z.ZodRawShape> = z.output<
  z.ZodObject<DocumentShape<K, S>, z.core.$strict>
>;

export interface DefineKindInput<K extends string, S extends z.ZodRawShape> {
  readonly kind: K;
  readonly description: string;
  readonly repeatable?: boolean;
  readonly fields: S;
  readonly example: string;
  readonly listKeys?: Readonly<Record<string, string>>;
  /** Rules within one document that types cannot say; report with `addIssue`. */
  readonly check?: (doc: DocumentOutput<K, S>, ctx: z.RefinementCtx) => void;
}

export function defineKind<K extends string, S extends z.ZodRawShape>(
  input: DefineKindInput<K, S>,
): KindDefinition<K, DocumentOutput<K, S>> {
  const shape = {
    apiVersion: z.literal(apiVersion).describe(`always \`${apiVersion}\``),
    kind: z.literal(input.kind).describe(`always \`${input.kind}\``),
    ...input.fields,
  } as DocumentShape<K, S>;
  const base = z.strictObject(shape);
  const check = input.check;
  const schema = (
    check ? base.superRefine((doc, ctx) => check(doc as DocumentOutput<K, S>, ctx)) : base
  ).meta({
    title: input.kind,
    description: input.description,
  });
  return Object.freeze({
    kind: input.kind,
    description: input.description,
    repeatable: input.repeatable ?? false,
    schema: schema as unknown as z.ZodType<DocumentOutput<K, S>>,
    example: input.example,
    listKeys: input.listKeys ?? {},
  });
}

/** Reports a problem at `path` inside the document being checked. */
export function addIssue(ctx: z.RefinementCtx, path: readonly (string | number)[], message: string): void {
  ctx.addIssue({ code: "custom", path: [...path], message });
}
