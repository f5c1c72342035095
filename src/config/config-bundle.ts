import { PlinthError } from "../errors/plinth-error.ts";
import type { ConfigDocument, DocumentOf, KindName } from "./kinds/index.ts";

/** A validated config: its documents in file order, with lookups by kind (and name). */
export interface ConfigBundle {
  readonly documents: readonly ConfigDocument[];
  /** The singleton of `kind`, or the document of a repeatable kind with that `name`. */
  find<K extends KindName>(kind: K, name?: string): DocumentOf<K> | undefined;
  /** Like `find`, but throws not_found naming the kind. */
  get<K extends KindName>(kind: K, name?: string): DocumentOf<K>;
  all<K extends KindName>(kind: K): DocumentOf<K>[];
}

function nameOf(doc: ConfigDocument): string | undefined {
  return "name" in doc && typeof doc.name === "string" ? doc.name : undefined;
}

export function createConfigBundle(documents: readonly ConfigDocument[]): ConfigBundle {
  const docs = Object.freeze([...documents]);
  const bundle: ConfigBundle = {
    documents: docs,
    all: <K extends KindName>(kind: K) => docs.filter((d): d is DocumentOf<K> => d.kind === kind),
    find: (kind, name) => bundle.all(kind).find((d) => name === undefined || nameOf(d) === name),
    get(kind, name) {
      const doc = bundle.find(kind, name);
      if (!doc) {
        throw new PlinthError(
          "not_found",
          `the config has no ${kind} document${name ? ` named ${name}` : ""}`,
        );
      }
      return doc;
    },
  };
  return bundle;
}
