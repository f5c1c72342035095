import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { TestSpec } from "../../conformance/test-resources.ts";
import {
  applyOperation,
  crashOwner,
  type Model,
  modelOf,
  operation,
  revisionOf,
} from "./crash-plan.fixture.ts";
import { createSqliteState } from "./sqlite-state.ts";

const writer = fileURLToPath(new URL("./crash-writer.fixture.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "plinth-sqlite-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Round {
  /** The highest operation the writer acknowledged before it was killed (0: none). */
  readonly acked: number;
  /** Writes it kept in flight: it never issued more than this beyond its last ack. */
  readonly inFlight: number;
  readonly note: string;
}

/**
 * Runs the writer on `path` and kills it with SIGKILL: usually 5–80 ms after its first ack, in
 * some rounds 0–3 ms after it opened the database, while its first batches are committing.
 */
function killWriter(path: string, round: number): Promise<Round> {
  const inFlight = 1 + Math.floor(Math.random() * 32);
  const early = round % 4 === 3;
  const delay = early ? Math.floor(Math.random() * 4) : 5 + Math.floor(Math.random() * 76);
  const note = `round ${round}: ${inFlight} in flight, killed ${delay} ms after ${early ? "opening" : "the first ack"}`;
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", writer, path, String(inFlight)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let acked = 0;
  let killed = false;
  let buffered = "";
  let stderr = "";
  const kill = () => {
    if (killed) return;
    killed = true;
    setTimeout(() => child.kill("SIGKILL"), delay);
  };
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const [word, n] = line.split(" ");
      if (word === "ack") {
        acked = Math.max(acked, Number(n));
        kill();
      } else if (word === "ready" && early) {
        kill();
      }
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve({ acked, inFlight, note });
      else reject(new Error(`${note}: the writer exited by itself (code ${code}): ${stderr}`));
    });
  });
}

function assertMatches(actual: Model, expected: Model, note: string): void {
  const sorted = (m: Model) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  assert.deepEqual(sorted(actual), sorted(expected), note);
}

describe("sqlite state under kill -9", () => {
  it("restarts with exactly a prefix of the writes, holding every acknowledged one", async (t) => {
    const path = join(dir, "state.db");
    const expected: Model = new Map();
    let replayed = 0;
    for (let round = 0; round < 24; round++) {
      const { acked, inFlight, note } = await killWriter(path, round);
      // Opening refuses a database with a torn or undecodable row, so this alone checks the rows.
      const state = createSqliteState({ path });
      try {
        const k = await revisionOf(state);
        assert.ok(k >= acked, `${note}: the state holds ${k} operations, but ${acked} were acknowledged`);
        assert.ok(k >= replayed, `${note}: the state went back from ${replayed} to ${k} operations`);
        const issued = Math.max(acked, replayed) + inFlight;
        assert.ok(k <= issued, `${note}: the state holds ${k} operations, but at most ${issued} were issued`);
        for (; replayed < k; replayed++) applyOperation(expected, operation(replayed + 1, expected));
        t.diagnostic(`${note}: ${acked} acknowledged, ${k} on restart`);
        const resources = await state.list(TestSpec.kind());
        for (const r of resources) {
          assert.equal(r.metadata.owner, crashOwner, note);
          assert.deepEqual(r.metadata.finalizers, [], note);
        }
        assertMatches(
          modelOf(resources),
          expected,
          `${note}: the state is not the one after ${k} operations`,
        );
      } finally {
        await state.close();
      }
      const db = new DatabaseSync(path);
      try {
        const check = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
        assert.deepEqual(
          check.map((r) => r.integrity_check),
          ["ok"],
          note,
        );
      } finally {
        db.close();
      }
    }
    assert.ok(replayed >= 24, `the writers made progress (${replayed} operations in all)`);
  });
});
