/**
 * Orders names (type names, service ids) case-insensitively, then by code unit: the order
 * localeCompare gives these ASCII names, without loading the ICU collation data (~2 MB resident)
 * into a process that never needed it otherwise.
 */
export function compareNames(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
