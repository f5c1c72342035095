import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { z } from "zod";
import { PlinthError } from "../errors/plinth-error.ts";
import { packTar, type TarEntry, unpackTar } from "./tar.ts";

/**
 * An agent bundle: a gzipped tar of what `plinth agent` runs (bin/, src/ without tests,
 * package.json) and a manifest naming its version and the sha256 of every file. The npm
 * dependencies are not inside: the manifest lists the exact version of each, and a node
 * installing the bundle links the node_modules it already runs with, after checking that it
 * holds those versions.
 */
export const manifestPath = "plinth-bundle.json";
export const bundleEntry = "bin/plinth.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 as 64 lowercase hex digits");

export const bundleManifestSchema = z.strictObject({
  kind: z.literal("PlinthAgentBundle"),
  format: z.literal(1),
  version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, "a version like 1.2.3 or 0.2.0-rc.1"),
  /** ISO 8601. */
  created: z.string().min(1),
  /** The file the node runs, relative to the bundle root. */
  entry: z.string().min(1),
  files: z.record(
    z.string(),
    z.strictObject({ sha256: hex64, size: z.number().int().nonnegative(), mode: z.number().int() }),
  ),
  /** npm package → the exact version the bundle was built with (reused from the node). */
  dependencies: z.record(z.string(), z.string()),
});

export type BundleManifest = z.infer<typeof bundleManifestSchema>;

export interface VerifiedBundle {
  readonly manifest: BundleManifest;
  /** The payload files (the manifest not included). */
  readonly files: readonly TarEntry[];
}

/** Largest unpacked bundle accepted: the agent's code is a few megabytes. */
const maxUnpackedBytes = 256 * 1024 * 1024;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** The version rule of the manifest, for flags: throws naming the flag. */
export function checkBundleVersion(version: string, flag: string): void {
  const r = bundleManifestSchema.shape.version.safeParse(version);
  if (!r.success) {
    throw new PlinthError(
      "invalid_argument",
      `${flag} must be a version like 1.2.3 (letters, digits, '.', '+', '_', '-'; at most 64), current value is '${version}'`,
    );
  }
}

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) await walk(root, rel, out);
    else if (e.isFile() && !e.name.endsWith(".test.ts")) out.push(rel);
  }
}

/**
 * Packs the agent's code at `root` (a checkout or an installed slot) as a bundle of `version`
 * (default: package.json's). package.json is rewritten with that version, which is what the
 * agent then reports.
 */
export async function createBundle(options: {
  root: string;
  version?: string;
  created?: Date;
}): Promise<{ archive: Uint8Array; manifest: BundleManifest }> {
  const { root } = options;
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    version: string;
    dependencies?: Record<string, string>;
  };
  const version = options.version ?? pkg.version;
  checkBundleVersion(version, "--version");
  const paths: string[] = [];
  for (const dir of ["bin", "src"]) await walk(root, dir, paths);
  paths.sort();
  const entries: TarEntry[] = [
    {
      path: "package.json",
      data: Buffer.from(`${JSON.stringify({ ...pkg, version }, null, 2)}\n`),
      mode: 0o644,
    },
  ];
  for (const p of paths) {
    const full = join(root, p);
    const mode = (await stat(full)).mode & 0o777;
    entries.push({ path: p.split(sep).join("/"), data: await readFile(full), mode });
  }
  const dependencies: Record<string, string> = {};
  for (const name of Object.keys(pkg.dependencies ?? {}).sort()) {
    dependencies[name] = await installedVersion(join(root, "node_modules"), name).catch(() => {
      throw new PlinthError(
        "failed_precondition",
        `cannot create a bundle: dependency ${name} is not installed in ${join(root, "node_modules")} (run 'npm ci')`,
      );
    });
  }
  return packBundle(entries, {
    version,
    dependencies,
    ...(options.created ? { created: options.created } : {}),
  });
}

/** Writes the manifest for `entries` (bin/plinth.js their entry) and packs them with it. */
export function packBundle(
  entries: readonly TarEntry[],
  options: { version: string; dependencies: Record<string, string>; created?: Date },
): { archive: Uint8Array; manifest: BundleManifest } {
  const manifest: BundleManifest = {
    kind: "PlinthAgentBundle",
    format: 1,
    version: options.version,
    created: (options.created ?? new Date()).toISOString(),
    entry: bundleEntry,
    files: Object.fromEntries(
      entries.map((e) => [e.path, { sha256: sha256(e.data), size: e.data.length, mode: e.mode }]),
    ),
    dependencies: options.dependencies,
  };
  const manifestEntry: TarEntry = {
    path: manifestPath,
    data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    mode: 0o644,
  };
  return { archive: gzipSync(packTar([manifestEntry, ...entries])), manifest };
}

/** The version of npm package `name` installed in `nodeModules`. */
export async function installedVersion(nodeModules: string, name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(nodeModules, name, "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

const tampered = (what: string) =>
  new PlinthError("invalid_argument", `bundle refused: ${what}; it was damaged or changed after it was made`);

/**
 * Unpacks a bundle in memory and checks it against its manifest: every file listed, with its
 * size and sha256, and nothing else. Nothing is written until this passed.
 */
export function verifyBundle(archive: Uint8Array): VerifiedBundle {
  let tar: Uint8Array;
  try {
    tar = gunzipSync(archive, { maxOutputLength: maxUnpackedBytes });
  } catch (err) {
    throw new PlinthError(
      "invalid_argument",
      `bundle refused: not a gzipped tar archive (${(err as Error).message})`,
      { cause: err },
    );
  }
  const entries = unpackTar(tar);
  const manifestEntry = entries.find((e) => e.path === manifestPath);
  if (!manifestEntry) throw new PlinthError("invalid_argument", `bundle refused: it has no ${manifestPath}`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(manifestEntry.data));
  } catch (err) {
    throw new PlinthError("invalid_argument", `bundle refused: ${manifestPath} is not JSON`, { cause: err });
  }
  const parsed = bundleManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PlinthError(
      "invalid_argument",
      `bundle refused: ${manifestPath} field '${issue.path.join(".") || "(root)"}': ${issue.message}`,
    );
  }
  const manifest = parsed.data;
  const files = entries.filter((e) => e !== manifestEntry);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw tampered(`'${f.path}' appears twice`);
    seen.add(f.path);
    const listed = manifest.files[f.path];
    if (!listed) throw tampered(`'${f.path}' is not listed in the manifest`);
    const digest = sha256(f.data);
    if (digest !== listed.sha256 || f.data.length !== listed.size) {
      throw tampered(
        `'${f.path}' has sha256 ${digest} (${f.data.length} bytes), the manifest says ${listed.sha256} (${listed.size} bytes)`,
      );
    }
  }
  for (const path of Object.keys(manifest.files)) {
    if (!seen.has(path)) throw tampered(`'${path}' is listed in the manifest but missing`);
  }
  if (!seen.has(manifest.entry)) throw tampered(`its entry '${manifest.entry}' is missing`);
  if (!seen.has("package.json")) throw tampered("package.json is missing");
  return { manifest, files };
}

/**
 * Refuses a bundle whose npm dependencies the node does not hold in the exact versions the
 * bundle was built with (a bundle carries no node_modules of its own).
 */
export async function checkDependencies(manifest: BundleManifest, nodeModules: string): Promise<void> {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(manifest.dependencies)) {
    const have = await installedVersion(nodeModules, name).catch(() => undefined);
    if (have !== want) problems.push(`${name} ${want} (${have ? `found ${have}` : "not installed"})`);
  }
  if (problems.length > 0) {
    throw new PlinthError(
      "failed_precondition",
      `bundle ${manifest.version} needs npm packages this node does not have in ${nodeModules}: ${problems.join(", ")}`,
    );
  }
}
