/**
 * A resource id for a text that may hold characters ids cannot (`/`, white space): those and `%`
 * are percent-encoded, so `/etc/motd` becomes `%2Fetc%2Fmotd` and ids stay one-to-one with texts.
 */
export function idFromText(text: string): string {
  return text.replace(/[%/\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The text an `idFromText` id stands for. */
export function textFromId(id: string): string {
  return id.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
