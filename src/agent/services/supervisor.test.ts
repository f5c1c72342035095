import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { ServiceStatus } from "./service-types.ts";
import { createSupervisor, type Supervisor } from "./supervisor.ts";

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("service supervisor", () => {
  let dir: string;
  let sup: Supervisor;
  let changes: ServiceStatus[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "plinth-svc-"));
    changes = [];
    sup = createSupervisor({
      logDir: dir,
      backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
      onChange: (s) => changes.push(s),
    });
  });
  afterEach(async () => {
    await sup.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a service, keeps its logs in memory and on disk, and stops it", async () => {
    sup.add({ id: "echo", command: "sh", args: ["-c", "echo hello; echo world >&2; exec sleep 30"] });
    sup.start("echo");
    const deadline = Date.now() + 5000;
    while ((await linesOf(sup, "echo")).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual((await linesOf(sup, "echo")).sort(), ["hello", "world"]);
    assert.equal(sup.status("echo").state, "running");
    const pid = sup.status("echo").pid!;
    await sup.stop("echo");
    assert.equal(sup.status("echo").state, "stopped");
    assert.throws(() => process.kill(pid, 0), /ESRCH/, "the process is gone");
    assert.deepEqual((await readFile(join(dir, "echo.log"), "utf8")).split("\n").filter(Boolean).sort(), [
      "hello",
      "world",
    ]);
  });

  it("restarts a crashing service with growing backoff", async () => {
    sup.add({ id: "crash", command: "sh", args: ["-c", "echo boom; exit 3"], restart: "always" });
    sup.start("crash");
    await until(() => sup.status("crash").restarts >= 3, "three restarts");
    const backoffs = changes.filter((c) => c.id === "crash" && c.state === "backoff").map((c) => c.message);
    assert.match(backoffs[0]!, /exited with code 3; restarting in 20 ms/);
    assert.match(backoffs[1]!, /restarting in 40 ms/);
    assert.match(backoffs[2]!, /restarting in 80 ms/);
  });

  it("on-failure and never policies end the service", async () => {
    sup.add({ id: "ok", command: "true", restart: "on-failure" });
    sup.add({ id: "bad", command: "false", restart: "never" });
    sup.start("ok");
    sup.start("bad");
    await until(
      () => sup.status("ok").state === "finished" && sup.status("bad").state === "failed",
      "both ended",
    );
    assert.equal(sup.status("bad").lastExit?.code, 1);
  });

  it("reports a missing command clearly", async () => {
    sup.add({ id: "ghost", command: "/nonexistent/binary", restart: "never" });
    sup.start("ghost");
    await until(() => sup.status("ghost").state === "failed", "failure");
    assert.match(sup.status("ghost").message, /command not found: \/nonexistent\/binary/);
  });

  it("starts a dependent only once its dependency is healthy, stops dependents first", async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => {
      // Bound later, to show the dependent waits for the health check.
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    sup.add({
      id: "db",
      command: "sleep",
      args: ["30"],
      health: { tcp: `127.0.0.1:${port}`, intervalMs: 20, timeoutMs: 100 },
    });
    sup.add({ id: "app", command: "sleep", args: ["30"], dependsOn: ["db"] });
    sup.start("app");
    sup.start("db");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sup.status("db").state, "starting");
    assert.equal(sup.status("app").state, "waiting");
    assert.match(sup.status("app").message, /waiting for service db/);
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    await until(() => sup.status("app").state === "running", "app running");
    assert.equal(sup.status("db").healthy, true);
    changes.length = 0;
    await sup.stopAll();
    const stops = changes.filter((c) => c.state === "stopping").map((c) => c.id);
    assert.deepEqual(stops, ["app", "db"]);
    server.close();
  });

  it("follows logs until aborted and serves a tail", async () => {
    sup.add({
      id: "ticker",
      command: "sh",
      args: ["-c", "for i in 1 2 3 4 5; do echo line$i; sleep 0.02; done; exec sleep 30"],
    });
    sup.start("ticker");
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const line of sup.logs("ticker", { follow: true, signal: ac.signal })) {
      seen.push(line);
      if (seen.length === 5) ac.abort();
    }
    assert.deepEqual(seen, ["line1", "line2", "line3", "line4", "line5"]);
    const tail: string[] = [];
    for await (const line of sup.logs("ticker", { tail: 2 })) tail.push(line);
    assert.deepEqual(tail, ["line4", "line5"]);
  });

  it("rejects a bad id and an unknown service", async () => {
    assert.throws(() => sup.add({ id: "Bad Id", command: "true" }), /'id' must be lowercase.*'Bad Id'/);
    assert.throws(() => sup.start("nope"), /service nope does not exist/);
  });
});

async function linesOf(sup: Supervisor, id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of sup.logs(id)) out.push(l);
  return out;
}
