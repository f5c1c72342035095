/**
 * A block of lines Plinth owns inside a file that is otherwise the user's (/etc/hosts,
 * /etc/resolv.conf). Lines outside the markers are never changed.
 */
const begin = "# BEGIN PLINTH MANAGED BLOCK";
const end = "# END PLINTH MANAGED BLOCK";

/** The lines of the block, or undefined when the file has none (or only half of one). */
export function blockLines(text: string | undefined): string[] | undefined {
  const lines = (text ?? "").split("\n");
  const from = lines.findIndex((l) => l.startsWith(begin));
  const to = lines.findIndex((l, i) => i > from && l.startsWith(end));
  if (from < 0 || to < 0) return undefined;
  return lines.slice(from + 1, to);
}

/**
 * The text with the block holding exactly `lines` (in place if there is one, else at the top, so
 * that its entries come first), or without a block when `lines` is undefined.
 */
export function withBlock(
  text: string | undefined,
  lines: readonly string[] | undefined,
  why: string,
): string {
  const all = (text ?? "").split("\n");
  const from = all.findIndex((l) => l.startsWith(begin));
  const to = all.findIndex((l, i) => i > from && l.startsWith(end));
  const outside = from >= 0 && to >= 0 ? [...all.slice(0, from), ...all.slice(to + 1)] : all;
  const at = from >= 0 && to >= 0 ? from : 0;
  if (lines === undefined) return outside.join("\n");
  const block = [`${begin}: ${why}`, ...lines, end];
  const result = [...outside.slice(0, at), ...block, ...outside.slice(at)].join("\n");
  return result.endsWith("\n") ? result : `${result}\n`;
}
