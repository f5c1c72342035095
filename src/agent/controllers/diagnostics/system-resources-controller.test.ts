import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { eventually } from "../../../testing/eventually.ts";
import { memAvailable, type SystemSample, sampleSystem } from "../../host/system-sample.ts";
import { SystemResources, systemResourcesId } from "../../resources/index.ts";
import { createSystemResourcesController } from "./system-resources-controller.ts";
import { type DiagnosticsHarness, startDiagnosticsHarness } from "./testing/diagnostics-harness.ts";

const mib = 1024 * 1024;

describe("system resources", () => {
  let h: DiagnosticsHarness | undefined;
  afterEach(() => h?.close());

  it("reads MemAvailable, else MemFree, from /proc/meminfo text", () => {
    assert.equal(
      memAvailable("MemTotal:  2000 kB\nMemFree:   300 kB\nMemAvailable:   1200 kB\n"),
      1200 * 1024,
    );
    assert.equal(memAvailable("MemTotal:  2000 kB\nMemFree:   300 kB\n"), 300 * 1024);
    assert.equal(memAvailable("nothing"), undefined);
  });

  it("samples this machine: memory and the free space of a directory's file system", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plinth-sysres-"));
    try {
      const s = await sampleSystem(dir);
      assert.ok(
        s.memoryAvailableBytes > 0 && s.memoryAvailableBytes <= s.memoryTotalBytes,
        JSON.stringify(s),
      );
      assert.ok(s.diskAvailableBytes > 0 && s.diskAvailableBytes <= s.diskTotalBytes, JSON.stringify(s));
      await assert.rejects(sampleSystem(join(dir, "missing")), /ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("publishes samples, and a new one only when a value moved by more than 1 MiB", async () => {
    let sample: SystemSample = {
      memoryAvailableBytes: 500 * mib,
      memoryTotalBytes: 1000 * mib,
      diskAvailableBytes: 700 * mib,
      diskTotalBytes: 900 * mib,
    };
    let samples = 0;
    h = await startDiagnosticsHarness(
      createSystemResourcesController({
        diskPath: "/state",
        intervalMs: 20,
        sample: async (dir) => {
          assert.equal(dir, "/state");
          samples++;
          return sample;
        },
      }),
    );
    const first = await eventually("the first sample", () =>
      h!.state.find(SystemResources.ptr(systemResourcesId)),
    );
    assert.deepEqual(first.spec, { ...sample, diskPath: "/state" });
    sample = { ...sample, memoryAvailableBytes: sample.memoryAvailableBytes + 1000 };
    const seen = samples;
    await eventually("more samples", () => (samples > seen + 3 ? true : undefined));
    assert.equal(
      (await h.state.get(SystemResources.ptr(systemResourcesId))).metadata.version,
      first.metadata.version,
    );
    sample = { ...sample, diskAvailableBytes: 100 * mib };
    await eventually("the moved disk figure", async () =>
      (await h!.state.get(SystemResources.ptr(systemResourcesId))).spec.diskAvailableBytes === 100 * mib
        ? true
        : undefined,
    );
  });
});
