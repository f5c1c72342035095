import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { startEtcd } from "./etcd-server.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function putAndGet(endpoint: string, key: string, value?: string): Promise<string | undefined> {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  if (value !== undefined) {
    await fetch(`${endpoint}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: b64(key), value: b64(value) }),
    });
  }
  const res = await fetch(`${endpoint}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: b64(key) }),
  });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const found = body.kvs?.[0]?.value;
  return found === undefined ? undefined : Buffer.from(found, "base64").toString();
}

describe("startEtcd", () => {
  it("serves on 127.0.0.1, restarts on the same data and port after stop and kill, and cleans up", async () => {
    const etcd = await startEtcd();
    try {
      assert.match(etcd.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await putAndGet(etcd.endpoint, "k", "v1"), "v1");
      const first = etcd.pid!;
      await etcd.kill();
      assert.equal(alive(first), false, "kill leaves no process");
      assert.equal(etcd.pid, undefined);
      await etcd.restart();
      assert.equal(await putAndGet(etcd.endpoint, "k"), "v1", "data survives a kill");
      const second = etcd.pid!;
      await etcd.stop();
      assert.equal(alive(second), false, "stop leaves no process");
      await etcd.restart();
      assert.equal(await putAndGet(etcd.endpoint, "k"), "v1", "data survives a stop");
      assert.ok(
        (await readFile(join(etcd.dataDir, "etcd.log"), "utf8")).length > 0,
        "etcd logs to its data dir",
      );
    } finally {
      await etcd.dispose();
    }
    assert.equal(existsSync(etcd.dataDir), false, "dispose removes the temp dir it created");
    assert.equal(etcd.pid, undefined);
  });

  it("aborting the signal kills the server", async () => {
    const ac = new AbortController();
    const etcd = await startEtcd({ signal: ac.signal });
    const pid = etcd.pid!;
    ac.abort();
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false);
    await etcd.dispose();
  });

  for (const ending of ["exit", "SIGTERM", "SIGINT"] as const) {
    it(`a server the test process forgot is killed when that process ends by ${ending}`, async () => {
      const fixture = new URL("./etcd-server.fixture.ts", import.meta.url).pathname;
      const child = spawn(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", fixture, ending === "exit" ? "exit" : "wait"],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
      const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
      const { pid, dataDir } = JSON.parse(line) as { pid: number; dataDir: string };
      assert.equal(alive(pid), true);
      if (ending !== "exit") child.kill(ending);
      assert.equal(await exited, ending === "exit" ? 0 : ending, "the process still ends as it would have");
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(pid), false, "etcd is gone");
      assert.equal(existsSync(dataDir), false, "its temp dir is gone");
    });
  }
});
