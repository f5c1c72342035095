import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { hasCode } from "../../errors/plinth-error.ts";
import { type ConnectedHost, connectHost, serveHost } from "./host-wire.ts";
import { createNodeHost } from "./node-host.ts";

describe("host wire", () => {
  let root: string;
  let host: ConnectedHost;
  let served: Promise<void>;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "plinth-wire-"));
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    served = serveHost(createNodeHost({ root }), { input: toServer, output: toClient });
    host = connectHost({ input: toClient, output: toServer });
  });
  after(async () => {
    host.close();
    await served;
    await rm(root, { recursive: true, force: true });
  });

  it("forwards calls, optional arguments and undefined results", async () => {
    assert.equal(await host.readFile("/etc/motd"), undefined);
    await host.writeFileAtomic("/etc/motd", "hi\n");
    assert.equal(await readFile(join(root, "etc", "motd"), "utf8"), "hi\n");
    assert.equal(await host.fileMode("/etc/motd"), 0o644);
    await host.writeFileAtomic("/etc/motd", "hi\n", { mode: 0o600 });
    assert.equal(await host.fileMode("/etc/motd"), 0o600);
    const results = await Promise.all([
      host.run("echo", ["a"]),
      host.run("sh", ["-c", "sleep 0.05; echo b"]),
    ]);
    assert.deepEqual(
      results.map((r) => r.stdout),
      ["a\n", "b\n"],
      "concurrent calls get their own answers",
    );
    assert.equal((await host.run("cat", [], { input: "in" })).stdout, "in");
  });

  it("keeps error codes and messages", async () => {
    await assert.rejects(
      host.readFile("relative"),
      (e) => hasCode(e, "invalid_argument") && /must be absolute/.test((e as Error).message),
    );
    await assert.rejects(host.run("/no/such/program", []), (e) => hasCode(e, "not_found"));
  });

  it("fails calls after close", async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const done = serveHost(createNodeHost({ root }), { input: toServer, output: toClient });
    const other = connectHost({ input: toClient, output: toServer });
    other.close();
    await assert.rejects(other.hostname(), (e) => hasCode(e, "unavailable"));
    await done;
  });
});
