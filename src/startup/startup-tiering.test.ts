import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { defaultTurbofanInvocations, startupTurbofanInvocations } from "./startup-tiering.js";

const run = promisify(execFile);

describe("start-up tiering", () => {
  it("restores V8's own default, as the pinned Node.js prints it", async () => {
    const { stdout } = await run(process.execPath, ["--v8-options"], { maxBuffer: 16 * 1024 * 1024 });
    const printed = /--invocation-count-for-turbofan=(\d+)/.exec(stdout)?.[1];
    assert.ok(printed, "node --v8-options names the default of --invocation-count-for-turbofan");
    assert.equal(defaultTurbofanInvocations, Number(printed));
    assert.ok(startupTurbofanInvocations >= 10 * defaultTurbofanInvocations);
  });

  it("keeps TurboFan off code hot during start-up, and gives it code hot afterwards", async () => {
    // Two functions alike: one run 4,000 times while start-up tiering is on (at V8's default that
    // is enough for TurboFan), one run 50,000 times after it ended. --trace-opt says which got
    // compiled; TurboFan compiles on the main thread here, so a busy machine cannot delay it past
    // the check.
    const module = new URL("./startup-tiering.js", import.meta.url).href;
    const script = `
      import { beginStartupTiering, endStartupTiering } from ${JSON.stringify(module)};
      function duringStartup(s) { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return h; }
      function afterStartup(s) { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return h; }
      beginStartupTiering();
      let x = 0;
      for (let i = 0; i < 4000; i++) x ^= duringStartup("/var/lib/plinth/state/" + i);
      await new Promise((r) => setTimeout(r, 100));
      endStartupTiering();
      for (let i = 0; i < 50000; i++) x ^= afterStartup("/var/lib/plinth/state/" + i);
      await new Promise((r) => setTimeout(r, 100));
      console.log("result", x);
    `;
    const { stdout } = await run(process.execPath, [
      "--trace-opt",
      "--no-concurrent-recompilation",
      "--no-concurrent-osr",
      "--input-type=module",
      "-e",
      script,
    ]);
    const turbofan = (name: string) =>
      new RegExp(`completed (compiling|optimizing) .*<JSFunction ${name} .*TURBOFAN`).test(stdout);
    assert.match(stdout, /result -?\d+/);
    assert.equal(turbofan("duringStartup"), false, "start-up code stays below TurboFan");
    assert.equal(turbofan("afterStartup"), true, "code hot after start-up reaches TurboFan");
  });
});
