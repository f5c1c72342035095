import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { bundledMain } from "../../bin/agent-bundle.js";
import { createApiTransport } from "../api/client/api-transport.ts";
import { MachineService } from "../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { eventually } from "../testing/eventually.ts";
import { freePort } from "../testing/free-port.ts";
import { version } from "../version.ts";
import {
  type BundleManifest,
  buildAgentBundle,
  contentHash,
  manifestName,
  projectRoot,
} from "./build-agent-bundle.ts";

describe("the agent's start-up bundle", () => {
  let dir: string;
  let manifest: BundleManifest;
  before(async () => {
    // Inside the project, as the real one: the bundle imports the packages it leaves out from
    // node_modules.
    await mkdir(join(projectRoot, "node_modules", ".cache"), { recursive: true });
    dir = await mkdtemp(join(projectRoot, "node_modules", ".cache", "plinth-agent-test-"));
    manifest = await buildAgentBundle(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("records every source that went into it, and the lock file, by content", async () => {
    for (const path of ["src/cli/main.ts", "src/agent/agent.ts", "src/version.ts", "package-lock.json"]) {
      const hash = manifest.inputs[path];
      assert.ok(hash, `${path} is an input`);
      assert.equal(hash, contentHash(await readFile(join(projectRoot, path))));
    }
    assert.ok(!Object.keys(manifest.inputs).some((p) => p.startsWith("node_modules/")));
  });

  it("is used while current and refused once a source differs from what was built", async () => {
    const main = await bundledMain({ dir, rebuild: false });
    assert.equal(typeof main, "function");
    const changed = { ...manifest, inputs: { ...manifest.inputs, "src/version.ts": contentHash("other") } };
    await writeFile(join(dir, manifestName), JSON.stringify(changed));
    try {
      assert.equal(await bundledMain({ dir, rebuild: false }), undefined);
    } finally {
      await writeFile(join(dir, manifestName), JSON.stringify(manifest));
    }
  });

  it("rebuilds a stale bundle in the background, into its own directory, and releases the lock", async () => {
    const fake = contentHash("not the source");
    const stale = { ...manifest, inputs: { ...manifest.inputs, "src/version.ts": fake } };
    await writeFile(join(dir, manifestName), JSON.stringify(stale));
    assert.equal(await bundledMain({ dir }), undefined);
    const rebuilt = await eventually(
      "the background build to replace the manifest",
      async () => {
        const m = JSON.parse(await readFile(join(dir, manifestName), "utf8")) as BundleManifest;
        return m.inputs["src/version.ts"] !== fake ? m : undefined;
      },
      60_000,
    );
    assert.equal(rebuilt.inputs["src/version.ts"], manifest.inputs["src/version.ts"]);
    await eventually("the build lock to be released", () =>
      existsSync(join(dir, "build.lock")) ? undefined : true,
    );
    manifest = rebuilt;
  });

  it("runs an agent that serves its API, its paths still relative to the sources, without loading Node's fetch", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "plinth-bundle-agent-"));
    const port = await freePort();
    // The bundle exports main() and runs nothing by itself: a small runner calls it, as
    // bin/plinth.js does.
    const runner = join(dir, "run.mjs");
    await writeFile(
      runner,
      [
        // Which of Node's fetch modules the agent loaded, said as it exits.
        `process.on("exit", () => process.stderr.write("\\nfetch modules: " + JSON.stringify(process.moduleLoadList.filter((m) => m.includes("undici"))) + "\\n"));`,
        `const { main } = await import(${JSON.stringify(join(dir, manifest.entry))});`,
        "process.exitCode = await main(process.argv.slice(2));",
      ].join("\n"),
    );
    const agent = spawn(
      process.execPath,
      [
        runner,
        "agent",
        "--state-dir",
        stateDir,
        "--listen",
        `127.0.0.1:${port}`,
        "--metrics",
        "off",
        "--mode",
        "local",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    agent.stderr.on("data", (d) => {
      log += d;
    });
    const api = createApiTransport({ url: `https://127.0.0.1:${port}`, tls: { insecure: true } });
    try {
      // version.ts reads package.json relative to itself: the answer proves the path survived.
      const answer = await eventually("the bundled agent to answer Version", () => {
        if (agent.exitCode !== null) throw new Error(`the bundled agent exited:\n${log}`);
        return createClient(MachineService, api.transport).version({}, { timeoutMs: 2000 });
      });
      assert.equal(answer.messages[0]?.version?.tag, version);
      assert.equal(answer.messages[0]?.maintenance, true);
    } finally {
      api.close();
      if (agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((r) => agent.once("exit", r));
        agent.kill("SIGTERM");
        await exited;
      }
      await rm(stateDir, { recursive: true, force: true });
    }
    // Builtins are not imported through their ES module facades (node:http's would load undici
    // for its WebSocket export), and a call that had a deadline ends without a ConnectError (whose
    // Headers would): an agent that answered a call still has no fetch implementation in memory.
    assert.match(log, /fetch modules: \[\]/);
  });
});
