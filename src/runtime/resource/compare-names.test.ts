import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { agentResources } from "../../agent/resources/index.ts";
import { compareNames } from "./compare-names.ts";

describe("compareNames", () => {
  it("orders the agent's type names as localeCompare does", () => {
    const types = agentResources.map((d) => d.type);
    const expected = [...types].sort((a, b) => a.localeCompare(b));
    assert.deepEqual([...types].sort(compareNames), expected);
  });

  it("ignores case first, then puts the upper-case spelling first", () => {
    assert.deepEqual(["etcd", "APIBalancerSpec", "AddressSpec", "Etcd"].sort(compareNames), [
      "AddressSpec",
      "APIBalancerSpec",
      "Etcd",
      "etcd",
    ]);
    assert.equal(compareNames("same", "same"), 0);
  });
});
