import { type ConfigPatch, parsePatch } from "../config/patch/config-patch.ts";
import { readTextFile } from "./files.ts";

/** `@file` reads a patch from a file; anything else is the patch itself, inline YAML or JSON. */
export async function readPatchArgs(values: readonly string[], flag: string): Promise<ConfigPatch[]> {
  const patches: ConfigPatch[] = [];
  for (const [i, value] of values.entries()) {
    if (value.startsWith("@")) {
      const path = value.slice(1);
      patches.push(parsePatch(await readTextFile(path, `${flag} file`), path));
    } else {
      patches.push(parsePatch(value, values.length > 1 ? `${flag} #${i + 1}` : flag));
    }
  }
  return patches;
}
