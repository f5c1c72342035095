import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { measure } from "./peers.ts";
import {
  type Comparison,
  type FigureSpec,
  jsonFigures,
  median,
  type Outcome,
  parsePeersArgs,
  renderTable,
  summarize,
} from "./summary.ts";

describe("bench peers arguments", () => {
  it("defaults to 5 runs of every comparison", () => {
    assert.deepEqual(parsePeersArgs(["peers", "--json"], 5), { runs: 5 });
  });

  it("reads --runs N, --runs=N and --only", () => {
    assert.deepEqual(parsePeersArgs(["peers", "--runs", "3"], 5), { runs: 3 });
    assert.deepEqual(parsePeersArgs(["--runs=12", "--only", "2,5"], 5), { runs: 12, only: [2, 5] });
  });

  it("refuses a run count that is not a whole number >= 1, naming the flag and the value", () => {
    for (const bad of [["--runs", "0"], ["--runs", "2.5"], ["--runs"], ["--runs=x"], ["--runs", "-1"]]) {
      assert.throws(
        () => parsePeersArgs(bad, 5),
        /--runs expects a whole number of runs >= 1, current value is/,
      );
    }
    assert.throws(() => parsePeersArgs(["--only", "6"], 5), /--only expects comparison numbers 1–5.*"6"/);
  });
});

describe("bench peers figures", () => {
  const speedup: FigureSpec = {
    key: "speedup",
    label: "speedup",
    unit: "×",
    digits: 1,
    goal: { value: 10, higherIsBetter: true },
    json: true,
  };
  const ms: FigureSpec = {
    key: "extraMs",
    label: "time",
    unit: "ms",
    digits: 0,
    goal: { value: 20, higherIsBetter: false },
    json: false,
  };

  it("takes the median of odd and even counts, whatever the order", () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
    assert.throws(() => median([]));
  });

  it("summarizes runs into a rounded median, the spread and the goal's verdict", () => {
    const s = summarize(speedup, [12.34, 8.01, 10.26]);
    assert.deepEqual([s.median, s.min, s.max, s.met], [10.3, 8, 12.3, true]);
    assert.equal(summarize(ms, [19, 25, 30]).met, false);
    assert.equal(summarize({ ...ms, goal: undefined }, [1]).met, undefined);
    assert.throws(() => summarize(ms, [1, Number.NaN]), /extraMs: every run must measure a finite value/);
  });

  it("renders a row per figure with goal and verdict, the notes, and a failed comparison's reason", () => {
    const outcomes: Outcome[] = [
      {
        title: "1. first",
        notes: ["a note"],
        summaries: [summarize(speedup, [9, 11, 12]), summarize(ms, [25])],
      },
      { title: "2. second", notes: [], error: "nebula is not installed" },
    ];
    const lines = renderTable(outcomes, 3).split("\n");
    assert.match(lines[0]!, /^figure\s+median of 3\s+min–max\s+goal$/);
    assert.equal(lines[1], "1. first");
    assert.match(lines[2]!, /^ {2}speedup\s+11\.0×\s+9\.0–12\.0\s+≥ 10×\s+met$/);
    assert.match(lines[3]!, /^ {2}time\s+25 ms\s+25–25\s+≤ 20 ms\s+MISSED$/);
    assert.equal(lines[4], "  · a note");
    assert.equal(lines[5], "2. second");
    assert.equal(lines[6], "  FAILED: nebula is not installed");
  });

  it("puts only the promised keys of the comparisons that ran into the JSON", () => {
    const outcomes: Outcome[] = [
      { title: "1", notes: [], summaries: [summarize(speedup, [9, 11, 12]), summarize(ms, [25])] },
      { title: "2", notes: [], error: "failed" },
    ];
    assert.deepEqual(jsonFigures(outcomes), { speedup: 11 });
  });
});

describe("bench peers comparisons", () => {
  const figure: FigureSpec = { key: "ratio", label: "ratio", unit: "×", digits: 2, json: true };
  const comparison = (run: () => Promise<Record<string, number>>): Comparison => ({
    title: "fake",
    figures: [figure],
    notes: ["a note"],
    run,
  });

  it("summarizes every run of a comparison that succeeds", async () => {
    let n = 0;
    const outcome = await measure(async () => comparison(async () => ({ ratio: ++n })), 3, 7);
    assert.equal(outcome.title, "7. fake");
    assert.ok("summaries" in outcome);
    assert.deepEqual(
      [outcome.summaries[0]!.median, outcome.summaries[0]!.min, outcome.summaries[0]!.max],
      [2, 1, 3],
    );
  });

  it("reports a comparison whose peer fails as failed, with the reason, and no figures", async () => {
    const outcome = await measure(
      async () =>
        comparison(async () => {
          throw new Error("nebula is missing: run 'npx plinth doctor --install'");
        }),
      3,
      3,
    );
    assert.deepEqual(outcome, {
      title: "3. fake",
      notes: [],
      error: "nebula is missing: run 'npx plinth doctor --install'",
    });
    assert.deepEqual(jsonFigures([outcome]), {});
  });

  it("fails a run that leaves a figure out rather than reporting fewer runs", async () => {
    const outcome = await measure(async () => comparison(async () => ({})), 1, 1);
    assert.ok("error" in outcome);
    assert.match(outcome.error, /did not measure ratio/);
  });
});
