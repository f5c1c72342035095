/** Label queries: every term must hold. `invert` negates one term ("not"). */
export type LabelTerm =
  | { readonly key: string; readonly op: "equal"; readonly value: string; readonly invert?: boolean }
  | { readonly key: string; readonly op: "exists"; readonly invert?: boolean }
  | {
      readonly key: string;
      readonly op: "in";
      readonly values: readonly string[];
      readonly invert?: boolean;
    };

export type LabelQuery = readonly LabelTerm[];

export function matchesTerm(labels: Readonly<Record<string, string>>, term: LabelTerm): boolean {
  const has = Object.hasOwn(labels, term.key);
  const value = labels[term.key];
  let result: boolean;
  switch (term.op) {
    case "equal":
      result = has && value === term.value;
      break;
    case "exists":
      result = has;
      break;
    case "in":
      result = has && term.values.includes(value as string);
      break;
  }
  return term.invert ? !result : result;
}

export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  query: LabelQuery | undefined,
): boolean {
  if (!query) return true;
  for (const term of query) if (!matchesTerm(labels, term)) return false;
  return true;
}

/**
 * Parses the CLI/API form `key=value,key!=value,key,!key,key in (a|b),key notin (a|b)`.
 */
export function parseLabelQuery(text: string): LabelQuery {
  const terms: LabelTerm[] = [];
  for (const raw of text.split(/,(?![^()]*\))/)) {
    const part = raw.trim();
    if (part === "") continue;
    const set = part.match(/^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/);
    const eq = part.match(/^([^\s!=()]+)\s*(!=|==|=)\s*(.*)$/);
    const exists = part.match(/^(!?)([^\s!=()]+)$/);
    if (set) {
      const values = set[3]!.split("|").map((v) => v.trim());
      terms.push({ key: set[1]!, op: "in", values, invert: set[2] === "notin" });
    } else if (eq) {
      terms.push({ key: eq[1]!, op: "equal", value: eq[3]!.trim(), invert: eq[2] === "!=" });
    } else if (exists) {
      terms.push({ key: exists[2]!, op: "exists", invert: exists[1] === "!" });
    } else {
      throw new TypeError(
        `Cannot parse label query: term '${part}' is not one of key=value, key!=value, key, !key, key in (a|b)`,
      );
    }
  }
  return terms;
}
