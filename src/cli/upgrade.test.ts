import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { runCli } from "../testing/cli.ts";
import { packTar, unpackTar } from "../upgrade/tar.ts";

// What `plinth bundle create` and `plinth upgrade` check before they reach any node.
describe("plinth bundle create / plinth upgrade: local checks", () => {
  let dir: string;
  let bundle: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-cli-upgrade-"));
    bundle = join(dir, "b.tar.gz");
    const r = await runCli(["bundle", "create", "--out", bundle, "--version", "1.2.3-rc.1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`bundle 1\\.2\\.3-rc\\.1: \\d+ files, \\d+ bytes, written to ${bundle}`),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("refuses a bad version, a bad duration and an unreadable bundle, naming the flag", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["bundle", "create", "--out", join(dir, "x"), "--version", "a b"],
        /--version must be a version like 1.2.3/,
      ],
      [
        ["upgrade", "--bundle", bundle, "--timeout", "soon"],
        /--timeout must be a duration of at least 1s, like 90s or 2m, current value is 'soon'/,
      ],
      [
        ["upgrade", "--bundle", bundle, "--health-timeout", "10ms"],
        /--health-timeout must be a duration of at least 1s/,
      ],
      [["upgrade", "--bundle", join(dir, "missing.tar.gz")], /--bundle: cannot read .*missing.tar.gz/],
      [["upgrade"], /required option '--bundle <path\|url>' not specified/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, message);
    }
  });

  it("fetches a bundle from an http URL and verifies it like a file", async () => {
    const { createServer } = await import("node:http");
    const tampered = join(dir, "t.tar.gz");
    const entries = unpackTar(gunzipSync(await readFile(bundle))).map((e) =>
      e.path === "package.json" ? { ...e, data: Buffer.from("{}\n") } : e,
    );
    await writeFile(tampered, gzipSync(packTar(entries)));
    const server = createServer(async (req, res) => {
      if (req.url === "/t.tar.gz") res.end(await readFile(tampered));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const got = await runCli(["upgrade", "--bundle", `${base}/t.tar.gz`]);
      assert.equal(got.code, 1);
      assert.match(got.stderr, /bundle refused: 'package.json' has sha256/);
      const missing = await runCli(["upgrade", "--bundle", `${base}/none.tar.gz`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /--bundle: http:\/\/127\.0\.0\.1:\d+\/none\.tar\.gz answered HTTP 404/);
    } finally {
      server.close();
    }
  });

  it("refuses a tampered bundle before connecting anywhere", async () => {
    const entries = unpackTar(gunzipSync(await readFile(bundle))).map((e) =>
      e.path === "bin/plinth.js" ? { ...e, data: Buffer.from("process.exit(0)\n") } : e,
    );
    const tampered = join(dir, "t.tar.gz");
    await writeFile(tampered, gzipSync(packTar(entries)));
    // No client config at all: the bundle is refused first.
    const r = await runCli(["--plinthconfig", join(dir, "none"), "upgrade", "--bundle", tampered]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bundle refused: 'bin\/plinth.js' has sha256 [0-9a-f]{64} \(16 bytes\)/);
  });
});
