// Builds the agent's start-up bundle: the CLI's TypeScript sources (and the pure ES module
// libraries they use most) in one JavaScript file, so that `plinth agent` loads one module
// instead of hundreds and needs no type stripping (whose compiler alone keeps ~17 MB resident).
// bin/agent-bundle.js decides whether a bundle is current; this file is run as its own process
// (`node src/startup/build-agent-bundle.ts`) when one is missing or stale, so the agent that
// found it so starts from the sources meanwhile. Needs the optional esbuild package; without
// it nothing is built and the agent always runs from its sources.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
export const bundleDir = join(projectRoot, "node_modules", ".cache", "plinth-agent");
export const manifestName = "manifest.json";

/**
 * Libraries bundled with the sources: ones that read no files relative to themselves.
 * Everything else (CommonJS packages, gRPC for etcd, …) is imported from node_modules at run
 * time, as from the sources.
 */
const bundledPackages = new Set([
  "zod",
  "yaml",
  "commander",
  "@bufbuild/protobuf",
  "@connectrpc/connect",
  "@connectrpc/connect-node",
  "prom-client",
  "@opentelemetry/api",
  "bintrees",
  "tdigest",
  // Certificate writing (loaded when a certificate is issued, which every start does): ~200
  // CommonJS modules as installed, one chunk here.
  "@peculiar/x509",
  "reflect-metadata",
  "tsyringe",
  "asn1js",
  "pvtsutils",
  "pvutils",
  "tslib",
]);
const bundledScopes = ["@peculiar/"];

/** What bin/agent-bundle.js checks: every file that went into the bundle, by content hash. */
export interface BundleManifest {
  readonly version: 1;
  /** The bundle file, relative to the bundle directory. */
  readonly entry: string;
  /** Path relative to the project root → sha256 (hex) of its content at build time. */
  readonly inputs: Readonly<Record<string, string>>;
}

export function contentHash(content: Uint8Array | string): string {
  return createHash("sha256").update(content).digest("hex");
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** The module the bundle imports a Node builtin through (see the plugin below). */
export function builtinModuleShim(specifier: string): string {
  const names = Object.getOwnPropertyNames(process.getBuiltinModule(specifier)).filter(
    (n) => n !== "default" && !n.startsWith("builtin$") && /^[A-Za-z_$][\w$]*$/.test(n),
  );
  return [
    // Local names start with `builtin$`: exports that do are left out above, so none is shadowed.
    `const builtin$module = process.getBuiltinModule(${JSON.stringify(specifier)});`,
    "const builtin$read = (name) => builtin$module[name];",
    "export default builtin$module;",
    ...names.map((n) => `export const ${n} = /* @__PURE__ */ builtin$read(${JSON.stringify(n)});`),
  ].join("\n");
}

/** Builds the bundle into `dir` (default: node_modules/.cache/plinth-agent); returns its manifest. */
export async function buildAgentBundle(dir = bundleDir): Promise<BundleManifest> {
  const esbuild = await import("esbuild");
  const staging = join(dir, `staging-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: projectRoot,
      entryPoints: [join(projectRoot, "src", "cli", "main.ts")],
      outdir: staging,
      entryNames: "plinth",
      outExtension: { ".js": ".mjs" },
      // Modules loaded on demand (other verbs, etcd's client) stay in chunks loaded on demand.
      splitting: true,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node24",
      metafile: true,
      logLevel: "silent",
      legalComments: "none",
      // V8 keeps every module's source text in memory: no comments or indentation (names stay,
      // for readable stack traces).
      minifyWhitespace: true,
      minifySyntax: true,
      // Bundled libraries that are CommonJS inside call require(); give them Node's.
      banner: {
        js: 'import { createRequire as __plinthRequire } from "node:module"; const require = __plinthRequire(import.meta.url);',
      },
      plugins: [
        {
          name: "plinth-sources",
          setup(build) {
            build.onResolve({ filter: /^[^./]/ }, (args) => {
              if (isBuiltin(args.path)) {
                // require() (in bundled CommonJS libraries) already gets the CommonJS object.
                if (args.kind === "require-call") return { path: args.path, external: true };
                return { path: args.path, namespace: "node-builtin" };
              }
              const name = packageName(args.path);
              const bundled = bundledPackages.has(name) || bundledScopes.some((s) => name.startsWith(s));
              return bundled ? undefined : { path: args.path, external: true };
            });
            // Node's builtins are not imported through their ES module facade: building a facade
            // reads every export, getters included, and those load what the agent never uses
            // (node:http's WebSocket getter loads undici, ~3 MB resident; node:tls's
            // rootCertificates parses the CA store). A module of our own takes the CommonJS
            // object from process.getBuiltinModule and exports each name through a pure call,
            // so that the bundle keeps, and reads, only the names it imports.
            build.onLoad({ filter: /.*/, namespace: "node-builtin" }, (args) => ({
              contents: builtinModuleShim(args.path),
              loader: "js",
            }));
            // A source that finds files relative to itself keeps doing so from inside the bundle.
            build.onLoad({ filter: /\.ts$/ }, async (args) => {
              const text = await readFile(args.path, "utf8");
              const url = JSON.stringify(pathToFileURL(args.path).href);
              return { contents: text.replaceAll("import.meta.url", url), loader: "ts" };
            });
          },
        },
      ],
    });
    const inputs: Record<string, string> = {};
    // The lock file stands for every package (bundled or not): a changed install changes it.
    const files = Object.keys(result.metafile.inputs)
      .filter((p) => !p.startsWith("node_modules/") && !p.startsWith("node-builtin:"))
      .map((p) => join(projectRoot, p));
    // This file too: how the bundle is made is part of what it is.
    files.push(join(projectRoot, "package-lock.json"), fileURLToPath(import.meta.url));
    for (const file of files) inputs[relative(projectRoot, file)] = contentHash(await readFile(file));
    const name = `plinth-${contentHash(JSON.stringify(inputs)).slice(0, 16)}`;
    // The same inputs build the same bundle: one already there may be in use, so it stays.
    if (!(await exists(join(dir, name)))) await rename(staging, join(dir, name));
    await markReplaced(dir, name);
    const manifest: BundleManifest = { version: 1, entry: `${name}/plinth.mjs`, inputs };
    // The manifest is replaced in one rename: a reader sees the old one or the new one.
    const next = join(dir, `${manifestName}.${process.pid}`);
    await writeFile(next, JSON.stringify(manifest));
    await rename(next, join(dir, manifestName));
    await removeOldBundles(dir, name);
    return manifest;
  } finally {
    // esbuild keeps a service process for further builds: there are none.
    await esbuild.stop();
    await rm(staging, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** Stamps the bundle being replaced with the time it was, for removeOldBundles. */
async function markReplaced(dir: string, next: string): Promise<void> {
  const text = await readFile(join(dir, manifestName), "utf8").catch(() => undefined);
  const entry = text ? (JSON.parse(text) as Partial<BundleManifest>).entry : undefined;
  const current = entry?.split("/")[0];
  if (current && current !== next) {
    const now = new Date();
    await utimes(join(dir, current), now, now).catch(() => {});
  }
}

/**
 * Bundles other than the current one, a day after they were replaced: an agent started from one
 * loads its chunks on demand (another verb's code, etcd's client) for as long as it runs.
 */
async function removeOldBundles(dir: string, keep: string): Promise<void> {
  const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
  for (const name of await readdir(dir)) {
    if (name === keep || !/^plinth-[0-9a-f]{16}$/.test(name)) continue;
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s && s.mtimeMs < dayAgo) await rm(join(dir, name), { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // The directory given is the one bin/agent-bundle.js took the build lock in.
  const dir = process.argv[2];
  try {
    await buildAgentBundle(dir);
  } catch (err) {
    // Without esbuild (an install without optional packages) there is simply no bundle.
    if ((err as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") {
      process.stderr.write(`plinth: building the agent bundle failed: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  } finally {
    // Taken by bin/agent-bundle.js for this build, so that concurrent starts build once.
    if (dir) await rm(join(dir, "build.lock"), { force: true });
  }
}
