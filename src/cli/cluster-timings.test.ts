import assert from "node:assert/strict";
import { it } from "node:test";
import { renderTimings } from "./cluster.ts";

it("cluster create --timings: each phase from the end of the one before, the rest and the total", () => {
  const text = renderTimings(
    [
      ["network", 100],
      ["nodes launched", 1100],
      ["etcd healthy", 4000],
    ],
    4250,
  );
  assert.deepEqual(text.split("\n"), [
    "timings:",
    "  network            100 ms",
    "  nodes launched    1000 ms",
    "  etcd healthy      2900 ms",
    "  client config      250 ms",
    "  total             4250 ms",
    "",
  ]);
});
