import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Diagnostic, ServiceStatusResource } from "../../resources/index.ts";
import { createCrashLoopController } from "./crash-loop-controller.ts";
import { type DiagnosticsHarness, startDiagnosticsHarness } from "./testing/diagnostics-harness.ts";

const status = (restarts: number) => ({
  state: "backoff",
  restarts,
  message: "exited with code 3; restarting in 400 ms",
  lastExitCode: 3,
});

describe("crash loop controller", () => {
  let h: DiagnosticsHarness;
  afterEach(() => h.close());

  it("reports a service restarted 3 times within the window, and drops the report once the window holds fewer", async () => {
    h = await startDiagnosticsHarness(createCrashLoopController({ restarts: 3, windowMs: 1500 }));
    await h.state.create(ServiceStatusResource.make("web", status(0)));
    await h.state.create(ServiceStatusResource.make("steady", { ...status(0), state: "running" }));
    // Let the controller see the services first: restarts before that are history, not a loop.
    await new Promise((r) => setTimeout(r, 200));
    for (const n of [1, 2]) {
      await h.state.modify(ServiceStatusResource.ptr("web"), (r) => {
        r.spec.restarts = n;
      });
    }
    // Two restarts are not a loop yet.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await h.diagnostics(() => true), []);
    await h.state.modify(ServiceStatusResource.ptr("web"), (r) => {
      r.spec.restarts = 3;
    });
    assert.deepEqual(await h.diagnostics((ids) => ids.length > 0), ["service-crash-loop-web"]);
    const d = await h.state.get(Diagnostic.ptr("service-crash-loop-web"));
    assert.match(d.spec.message, /^service web is crash-looping: 3 restarts in the last 2 s$/);
    assert.ok(d.spec.details.includes("last exit code: 3"), d.spec.details.join("; "));
    // No more restarts: once they are older than the window the report goes, without any input change.
    assert.deepEqual(await h.diagnostics((ids) => ids.length === 0), []);
  });

  it("counts restarts seen before it started as history, not as a loop", async () => {
    h = await startDiagnosticsHarness(createCrashLoopController({ restarts: 3, windowMs: 60_000 }));
    await h.state.create(ServiceStatusResource.make("old", status(40)));
    await h.state.modify(ServiceStatusResource.ptr("old"), (r) => {
      r.spec.restarts = 41;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await h.diagnostics(() => true), []);
  });
});
