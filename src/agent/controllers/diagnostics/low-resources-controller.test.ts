import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Diagnostic, SystemResources, systemResourcesId } from "../../resources/index.ts";
import { createLowResourcesController } from "./low-resources-controller.ts";
import { type DiagnosticsHarness, startDiagnosticsHarness } from "./testing/diagnostics-harness.ts";

const mib = 1024 * 1024;

describe("low resources controller", () => {
  let h: DiagnosticsHarness;
  beforeEach(async () => {
    h = await startDiagnosticsHarness(
      createLowResourcesController({ memoryBytes: 100 * mib, diskBytes: 200 * mib }),
    );
  });
  afterEach(() => h.close());

  it("reports memory and disk below the minimums, and nothing once they are above", async () => {
    await h.state.create(
      SystemResources.make(systemResourcesId, {
        memoryAvailableBytes: 50 * mib,
        memoryTotalBytes: 1024 * mib,
        diskAvailableBytes: 150 * mib,
        diskTotalBytes: 2048 * mib,
        diskPath: "/var/lib/plinth",
      }),
    );
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 2), ["low-disk", "low-memory"]);
    assert.equal(
      (await h.state.get(Diagnostic.ptr("low-memory"))).spec.message,
      "50 MiB of memory available, below the minimum of 100 MiB",
    );
    assert.equal(
      (await h.state.get(Diagnostic.ptr("low-disk"))).spec.message,
      "150 MiB free on the file system of /var/lib/plinth, below the minimum of 200 MiB",
    );
    await h.state.modify(SystemResources.ptr(systemResourcesId), (r) => {
      r.spec.memoryAvailableBytes = 100 * mib;
    });
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 1), ["low-disk"]);
    await h.state.modify(SystemResources.ptr(systemResourcesId), (r) => {
      r.spec.diskAvailableBytes = 300 * mib;
    });
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 0), []);
  });
});
