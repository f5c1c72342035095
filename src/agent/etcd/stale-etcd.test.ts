import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recordEtcdPid, stopStaleEtcd } from "./stale-etcd.ts";

describe("an etcd left running by an earlier agent process", () => {
  let dir: string;
  const children: ChildProcess[] = [];

  /** A stand-in for etcd: a process whose command line names the data dir, as etcd's does. */
  function fakeEtcd(dataDir: string): ChildProcess {
    const child = spawn(
      process.execPath,
      ["-e", "setInterval(() => {}, 1000)", "--", `--data-dir=${dataDir}`],
      {
        stdio: "ignore",
      },
    );
    children.push(child);
    return child;
  }

  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once("exit", () => resolve()));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-stale-etcd-"));
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("is stopped when the recorded pid still runs on the same data dir", async () => {
    const child = fakeEtcd(join(dir, "data"));
    await new Promise((r) => child.once("spawn", r));
    await recordEtcdPid(dir, child.pid!);
    assert.equal(await stopStaleEtcd(dir, join(dir, "data")), child.pid);
    await exited(child);
    assert.equal(child.signalCode, "SIGTERM");
  });

  it("is left alone when it is the etcd this agent runs, or runs on other data", async () => {
    const child = fakeEtcd(join(dir, "other"));
    await new Promise((r) => child.once("spawn", r));
    await recordEtcdPid(dir, child.pid!);
    assert.equal(await stopStaleEtcd(dir, join(dir, "data")), undefined);
    assert.equal(await stopStaleEtcd(dir, join(dir, "other"), { currentPid: child.pid! }), undefined);
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
  });

  it("does nothing without a recorded pid, or when that process is gone", async () => {
    const empty = await mkdtemp(join(dir, "none-"));
    assert.equal(await stopStaleEtcd(empty, join(empty, "data")), undefined);
    const child = fakeEtcd(join(dir, "gone"));
    await new Promise((r) => child.once("spawn", r));
    await recordEtcdPid(empty, child.pid!);
    child.kill("SIGKILL");
    await exited(child);
    assert.equal(await stopStaleEtcd(empty, join(dir, "gone")), undefined);
  });
});
