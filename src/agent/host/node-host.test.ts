import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hasCode } from "../../errors/plinth-error.ts";
import type { Host } from "./host.ts";
import { createNodeHost } from "./node-host.ts";

describe("node host adapter", () => {
  let root: string;
  let host: Host;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "plinth-host-"));
    await mkdir(join(root, "proc-sys", "net", "ipv4", "conf", "eth0.100"), { recursive: true });
    await writeFile(join(root, "proc-sys", "net", "ipv4", "ip_forward"), "0\n");
    await writeFile(join(root, "proc-sys", "net", "ipv4", "conf", "eth0.100", "forwarding"), "0\n");
    host = createNodeHost({ root: join(root, "fs"), sysctlRoot: join(root, "proc-sys") });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("writes files atomically with their mode, appends, reads and removes", async () => {
    assert.equal(await host.readFile("/etc/motd"), undefined);
    await host.writeFileAtomic("/etc/motd", "hello\n", { mode: 0o600 });
    assert.equal(await host.readFile("/etc/motd"), "hello\n");
    assert.equal(await host.fileMode("/etc/motd"), 0o600);
    await host.appendFile("/etc/motd", "more\n");
    assert.equal(await host.readFile("/etc/motd"), "hello\nmore\n");
    assert.deepEqual(await readdir(join(root, "fs", "etc")), ["motd"], "no temp files left behind");
    await host.removeFile("/etc/motd");
    assert.equal(await host.fileMode("/etc/motd"), undefined);
  });

  it("names the file in errors, never the temp file of an atomic write", async () => {
    await host.writeFileAtomic("/etc/plain", "x");
    await assert.rejects(host.writeFileAtomic("/etc/plain/below", "y"), (e) => {
      assert.match((e as Error).message, /^cannot write \/etc\/plain\/below: E[A-Z]+: [^,']+$/);
      return true;
    });
    // The rename of the temp file over a directory fails.
    await assert.rejects(host.writeFileAtomic("/etc", "y"), (e) => {
      assert.equal((e as Error).message, "cannot write /etc: EISDIR: illegal operation on a directory");
      return true;
    });
    assert.deepEqual((await readdir(join(root, "fs"))).sort(), ["etc"], "no temp file left behind");
  });

  it("refuses relative paths and paths that leave the root", async () => {
    await assert.rejects(
      host.readFile("etc/motd"),
      (e) => hasCode(e, "invalid_argument") && /absolute/.test((e as Error).message),
    );
    await assert.rejects(host.writeFileAtomic("/../../escape", "x"), /leaves the root/);
  });

  it("reads and writes sysctls, validating the key", async () => {
    assert.equal(await host.readSysctl("net.ipv4.ip_forward"), "0");
    await host.writeSysctl("net.ipv4.ip_forward", "1");
    assert.equal(await host.readSysctl("net.ipv4.ip_forward"), "1");
    assert.equal(await host.readSysctl("net.ipv4.no_such_key"), undefined);
    await assert.rejects(host.writeSysctl("net/../../etc", "1"), /sysctl key must look like/);
  });

  it("reads sysctl keys in both of sysctl(8)'s forms, dots in link names included", async () => {
    await host.writeSysctl("net/ipv4/conf/eth0.100/forwarding", "1");
    assert.equal(await host.readSysctl("net.ipv4.conf.eth0/100.forwarding"), "1");
    assert.equal(await host.readSysctl("net/ipv4/ip_forward"), "1");
    await assert.rejects(host.readSysctl("net.ipv4.conf.x//.y"), (e) => hasCode(e, "invalid_argument"));
  });

  it("runs programs: exit codes are results, a missing program is not_found", async () => {
    const r = await host.run("sh", ["-c", "echo out; echo err >&2; exit 4"]);
    assert.deepEqual(r, { stdout: "out\n", stderr: "err\n", code: 4 });
    await assert.rejects(host.run("/no/such/program", []), (e) => hasCode(e, "not_found"));
    await assert.rejects(host.run("sleep", ["5"], { timeoutMs: 50 }), (e) => hasCode(e, "deadline_exceeded"));
    const links = await host.ipJson<{ ifname: string }[]>(["link", "show", "lo"]);
    assert.equal(links[0]?.ifname, "lo");
    await assert.rejects(host.ipJson(["link", "show", "no-such-link0"]), /ip link show no-such-link0 failed/);
  });
});
