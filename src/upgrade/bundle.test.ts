import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { checkDependencies, createBundle, manifestPath, verifyBundle } from "./bundle.ts";
import { packTar, unpackTar } from "./tar.ts";

/** A tiny agent checkout: what createBundle packs. */
async function fakeRoot(dir: string): Promise<void> {
  await mkdir(join(dir, "bin"), { recursive: true });
  await mkdir(join(dir, "src", "deep", "er"), { recursive: true });
  await mkdir(join(dir, "node_modules", "dep"), { recursive: true });
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "p", version: "0.1.0", type: "module", dependencies: { dep: "^1.0.0" } }),
  );
  await writeFile(join(dir, "bin", "plinth.js"), "console.log('hi')\n", { mode: 0o755 });
  await writeFile(join(dir, "src", "main.ts"), "export const x = 1;\n");
  await writeFile(join(dir, "src", "main.test.ts"), "// not shipped\n");
  await writeFile(join(dir, "src", "deep", "er", "file.ts"), "export const y = 2;\n");
  await writeFile(join(dir, "node_modules", "dep", "package.json"), JSON.stringify({ version: "1.2.3" }));
}

/** The bundle with one entry's bytes replaced, the manifest left as it was. */
function withChanged(archive: Uint8Array, path: string, data: string): Uint8Array {
  const entries = unpackTar(gunzipSync(archive)).map((e) =>
    e.path === path ? { ...e, data: Buffer.from(data) } : e,
  );
  return gzipSync(packTar(entries));
}

describe("agent bundles", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "plinth-bundle-"));
    await fakeRoot(root);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("packs bin/, src/ without tests and package.json with the given version, and verifies", async () => {
    const { archive, manifest } = await createBundle({ root, version: "0.2.0", created: new Date(0) });
    assert.equal(manifest.version, "0.2.0");
    assert.equal(manifest.created, "1970-01-01T00:00:00.000Z");
    assert.deepEqual(Object.keys(manifest.files).sort(), [
      "bin/plinth.js",
      "package.json",
      "src/deep/er/file.ts",
      "src/main.ts",
    ]);
    assert.equal(manifest.files["bin/plinth.js"]!.mode, 0o755);
    assert.deepEqual(manifest.dependencies, { dep: "1.2.3" });
    const v = verifyBundle(archive);
    const pkg = JSON.parse(String(v.files.find((f) => f.path === "package.json")!.data));
    assert.equal(pkg.version, "0.2.0");
    assert.equal(String(v.files.find((f) => f.path === "src/main.ts")!.data), "export const x = 1;\n");
  });

  it("refuses a file changed after packing, naming it and both digests", async () => {
    const { archive } = await createBundle({ root });
    assert.throws(
      () => verifyBundle(withChanged(archive, "src/main.ts", "export const x = 666;\n")),
      /bundle refused: 'src\/main.ts' has sha256 [0-9a-f]{64} \(22 bytes\), the manifest says [0-9a-f]{64} \(20 bytes\); it was damaged or changed/,
    );
  });

  it("refuses added, missing and duplicated files, and broken manifests", async () => {
    const { archive } = await createBundle({ root });
    const entries = unpackTar(gunzipSync(archive));
    const pack = (es: typeof entries) => gzipSync(packTar(es));
    assert.throws(
      () => verifyBundle(pack([...entries, { path: "src/evil.ts", data: Buffer.from("x"), mode: 0o644 }])),
      /'src\/evil.ts' is not listed in the manifest/,
    );
    assert.throws(
      () => verifyBundle(pack(entries.filter((e) => e.path !== "src/main.ts"))),
      /'src\/main.ts' is listed in the manifest but missing/,
    );
    assert.throws(() => verifyBundle(pack([...entries, entries[2]!])), /appears twice/);
    assert.throws(
      () => verifyBundle(pack(entries.filter((e) => e.path !== manifestPath))),
      /it has no plinth-bundle.json/,
    );
    assert.throws(
      () => verifyBundle(withChanged(archive, manifestPath, '{"kind":"PlinthAgentBundle"}')),
      /plinth-bundle.json field 'format'/,
    );
    assert.throws(() => verifyBundle(Buffer.from("not gzip")), /not a gzipped tar archive/);
  });

  it("refuses a bad version when packing", async () => {
    await assert.rejects(createBundle({ root, version: "../1" }), /--version must be a version like 1.2.3/);
  });

  it("checks that the node holds the exact dependency versions", async () => {
    const { manifest } = await createBundle({ root });
    await checkDependencies(manifest, join(root, "node_modules"));
    await assert.rejects(
      checkDependencies(
        { ...manifest, dependencies: { dep: "2.0.0", gone: "1.0.0" } },
        join(root, "node_modules"),
      ),
      /needs npm packages this node does not have in .*: dep 2.0.0 \(found 1.2.3\), gone 1.0.0 \(not installed\)/,
    );
  });
});

describe("bundle tar format", () => {
  it("round-trips long paths through the ustar prefix", () => {
    const long = `${"d".repeat(90)}/${"e".repeat(60)}/${"f".repeat(90)}.ts`;
    const out = unpackTar(packTar([{ path: long, data: Buffer.from("z"), mode: 0o640 }]));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.path, long);
    assert.equal(out[0]!.mode, 0o640);
  });

  it("refuses paths leaving the bundle and non-file entries", () => {
    for (const p of ["../x", "/etc/passwd", "a/../../b", "a//b"]) {
      assert.throws(
        () => packTar([{ path: p, data: Buffer.from(""), mode: 0o644 }]),
        /is not a relative path/,
      );
    }
    const tar = packTar([{ path: "a", data: Buffer.from(""), mode: 0o644 }]);
    const link = Buffer.from(tar);
    link[156] = "2".charCodeAt(0); // symbolic link; fix the checksum
    link.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += link[i]!;
    link.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    assert.throws(() => unpackTar(link), /tar type '2'; a bundle holds regular files only/);
    const damaged = Buffer.from(tar);
    damaged[0] = "b".charCodeAt(0);
    assert.throws(() => unpackTar(damaged), /damaged tar header/);
  });
});
