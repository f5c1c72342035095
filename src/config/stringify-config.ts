import { stringify } from "yaml";

/** Multi-document YAML, one document per value, multi-line strings (PEM) as literal blocks. */
export function stringifyDocuments(values: readonly unknown[]): string {
  return values
    .map((v) => stringify(v, { lineWidth: 0, blockQuote: "literal", aliasDuplicateObjects: false }))
    .join("---\n");
}
