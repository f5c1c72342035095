// Apply modes end to end: a real agent applying host documents inside a sandbox (its own network,
// UTS and mount namespaces, private /etc and /var), driven through its API and the CLI.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { snapshotMachine } from "../../src/agent/controllers/testing/host-harness.ts";
import { fromConnectError } from "../../src/api/error-mapping.ts";
import { ApplyMode } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { yamlOf } from "../../src/config/testing/fixtures.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { type SandboxedAgent, startSandboxedAgent } from "../../src/testing/sandboxed-agent.ts";

const paths = {
  kept: "/etc/plinth-apply",
  added: "/etc/plinth-apply-new",
  theirs: "/etc/plinth-apply-theirs",
};
const bridge = "br-apply";
const watch = {
  files: Object.values(paths),
  sysctls: ["net.ipv4.conf.default.rp_filter"],
  links: [bridge],
  addresses: ["10.77.0."],
};

const hostname = (name: string) => ({ apiVersion: "v1alpha1", kind: "Hostname", hostname: name });
const service = (name: string, seconds: string) => ({
  apiVersion: "v1alpha1",
  kind: "Service",
  name,
  command: "/bin/sleep",
  args: [seconds],
});

/** The config before: hostname, one file, one sysctl, one service; no bridge. */
const configBefore = (name = "apply-before") => [
  hostname(name),
  { apiVersion: "v1alpha1", kind: "Files", files: [{ path: paths.kept, content: "before\n" }] },
  { apiVersion: "v1alpha1", kind: "Sysctls", sysctls: { "net.ipv4.ip_forward": "0" } },
  service("svc-a", "613"),
];

/** The config tried: every one of them changed, a bridge with an address, another service. */
const tried = [
  hostname("apply-after"),
  {
    apiVersion: "v1alpha1",
    kind: "Files",
    files: [
      { path: paths.kept, content: "after\n" },
      { path: paths.added, content: "new\n" },
      { path: paths.theirs, content: "ours\n" },
    ],
  },
  {
    apiVersion: "v1alpha1",
    kind: "Sysctls",
    sysctls: { "net.ipv4.ip_forward": "1", "net.ipv4.conf.default.rp_filter": "2" },
  },
  { apiVersion: "v1alpha1", kind: "Link", name: bridge, type: "bridge" },
  { apiVersion: "v1alpha1", kind: "Address", name: bridge, addresses: ["10.77.0.1/24"] },
  service("svc-b", "614"),
];

describe("apply modes, a real agent in a sandbox", () => {
  let a: SandboxedAgent;
  let machine: Record<string, unknown>;
  let rpFilterBefore: string;
  let stopped = false;

  const sh = async (script: string) => {
    const r = await a.box.exec("sh", ["-c", script]);
    if (r.code !== 0) throw new Error(`in sandbox: '${script}' exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const config = (...docs: unknown[]) => new TextEncoder().encode(yamlOf(...a.baseDocuments, ...docs));
  const version = async () => {
    const [latest] = (await a.machine.configHistory({ limit: 1 })).messages[0]?.entries ?? [];
    return Number(latest?.version ?? 0);
  };
  const services = async () =>
    Object.fromEntries(
      ((await a.machine.serviceList({})).messages[0]?.services ?? []).map((s) => [s.id, s.state]),
    );
  /** What the machine looks like from inside: everything the configs above touch. */
  const observed = async () => {
    const text = await sh(
      [
        "hostname",
        `cat ${paths.kept}`,
        `cat ${paths.added} 2>/dev/null || echo '(none)'`,
        `cat ${paths.theirs}`,
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/default/rp_filter",
        `ip -br -4 addr show dev ${bridge} 2>/dev/null | awk '{print $1, $3}' | grep . || echo '(no bridge)'`,
      ].join("; "),
    );
    return { host: text.trim().split("\n"), services: await services() };
  };
  const beforeState = () => ({
    host: ["apply-before", "before", "(none)", "theirs", "0", rpFilterBefore, "(no bridge)"],
    services: { "svc-a": "running" },
  });
  const triedState = {
    host: ["apply-after", "after", "new", "ours", "1", "2", `${bridge} 10.77.0.1/24`],
    services: { "svc-b": "running" },
  };
  const until = (what: string, expected: unknown, timeoutMs = 10_000) =>
    eventually(
      what,
      async () => {
        const now = await observed();
        return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
      },
      timeoutMs,
    );

  before(async () => {
    machine = await snapshotMachine(watch);
    a = await startSandboxedAgent({ name: "apply-box" });
    await sh(`echo theirs > ${paths.theirs}`);
    rpFilterBefore = (await sh("cat /proc/sys/net/ipv4/conf/default/rp_filter")).trim();
    await a.machine.applyConfiguration({ data: config(...configBefore()), mode: ApplyMode.AUTO });
    await until("the config before", beforeState());
  });
  after(async () => {
    if (!stopped) await a?.stop();
  });

  it("a dry run prints the config diff and the spec resources that would change, and changes nothing", async () => {
    const file = join(a.box.dir, "tried.yaml");
    await writeFile(file, yamlOf(...a.baseDocuments, ...tried));
    const v = await version();
    const r = await a.cli(["apply-config", "-f", file, "--mode", "try", "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-hostname: apply-before\n\+hostname: apply-after$/m);
    const listed = r.stdout.slice(r.stdout.indexOf("resources that would change"));
    assert.equal(
      listed,
      [
        "resources that would change (+ create, ~ update, - destroy):",
        "  + network/AddressSpec/br-apply%2F10.77.0.1%2F24",
        "  ~ network/HostnameSpec/hostname",
        "  + network/LinkSpec/br-apply",
        "  ~ runtime/FileSpec/%2Fetc%2Fplinth-apply",
        "  + runtime/FileSpec/%2Fetc%2Fplinth-apply-new",
        "  + runtime/FileSpec/%2Fetc%2Fplinth-apply-theirs",
        "  - runtime/ServiceSpec/svc-a",
        "  + runtime/ServiceSpec/svc-b",
        "  + runtime/SysctlSpec/net.ipv4.conf.default.rp_filter",
        "  ~ runtime/SysctlSpec/net.ipv4.ip_forward",
        "dry run: nothing was changed; it would be applied for a try",
        "",
      ].join("\n"),
    );
    assert.equal(await version(), v);
    assert.deepEqual(await observed(), beforeState());
  });

  it("no-reboot refuses a change that needs a restart, listing the fields, and changes nothing", async () => {
    const [mc, cluster, ...rest] = structuredClone(a.baseDocuments) as Record<string, unknown>[];
    const changed = [
      { ...mc, install: { dir: "/var/lib/plinth/other" } },
      { ...cluster, secret: Buffer.alloc(32, 7).toString("base64") },
    ];
    const v = await version();
    const err = await a.machine
      .applyConfiguration({
        data: new TextEncoder().encode(yamlOf(...changed, ...rest, ...configBefore("apply-refused"))),
        mode: ApplyMode.NO_REBOOT,
      })
      .then(
        () => undefined,
        (e) => fromConnectError(e),
      );
    assert.equal(err?.code, "failed_precondition", err?.message);
    assert.match(
      err?.message ?? "",
      /^Cannot apply config with mode no-reboot: changing MachineConfig\.install\.dir, ClusterConfig\.secret needs a restart of the agent; apply with mode auto/,
    );
    assert.equal(await version(), v);
    assert.deepEqual(await observed(), beforeState());
  });

  it("try rolls hostname, files, sysctls, network and services back when not confirmed in time", async () => {
    const v = await version();
    const reply = (
      await a.machine.applyConfiguration({
        data: config(...tried),
        mode: ApplyMode.TRY,
        tryTimeout: { seconds: 4n, nanos: 0 },
      })
    ).messages[0];
    assert.equal(reply?.mode, ApplyMode.TRY);
    assert.equal(Number(reply?.version), v + 1);
    await until("the tried config", triedState, 3500);
    await until("the rollback", beforeState(), 10_000);
    const [latest] = (await a.machine.configHistory({ limit: 1 })).messages[0]?.entries ?? [];
    assert.equal(Number(latest?.version), v + 2);
    assert.equal(
      latest?.note,
      `rolled back to version ${v}: the try of version ${v + 1} was not confirmed within 4s`,
    );
  });

  it("try keeps the config once confirmed (apply-config --confirm)", async () => {
    const file = join(a.box.dir, "kept.yaml");
    await writeFile(file, yamlOf(...a.baseDocuments, ...configBefore("apply-kept")));
    // Two CLI runs fit in the try window even on a busy machine.
    const start = Date.now();
    const applied = await a.cli(["apply-config", "-f", file, "--mode", "try", "--timeout", "8s"]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied for a try: version \d+ comes back in 8s unless confirmed/);
    const confirmed = await a.cli(["apply-config", "--confirm"]);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.ok(Date.now() - start < 8000, "confirmed in time");
    assert.match(confirmed.stdout, /^config version \d+ is kept$/m);
    const v = await version();
    await new Promise((r) => setTimeout(r, Math.max(0, start + 8500 - Date.now())));
    assert.equal(await version(), v);
    assert.deepEqual(await observed(), {
      ...beforeState(),
      host: ["apply-kept", ...beforeState().host.slice(1)],
    });
  });

  it("config rollback applies the version before the current one, or a given version, as a new version", async () => {
    const kept = await version();
    const back = await a.cli(["config", "rollback"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, new RegExp(`^config version ${kept + 1} applied without a restart$`, "m"));
    await until("the config before the kept one", beforeState());
    const again = await a.cli(["config", "rollback", String(kept)]);
    assert.equal(again.code, 0, again.stderr);
    await eventually("the kept config again", async () =>
      (await sh("hostname")).trim() === "apply-kept" ? true : undefined,
    );
    const history = await a.cli(["config", "history", "--limit", "2"]);
    assert.match(
      history.stdout,
      new RegExp(`^${kept + 2} .* auto +admin +rollback to version ${kept}$`, "m"),
    );
    assert.match(history.stdout, new RegExp(`^${kept + 1} .* rollback to version ${kept - 1}$`, "m"));
  });

  it("staged keeps the config until the agent restarts, which applies it first", async () => {
    const v = await version();
    const reply = (
      await a.machine.applyConfiguration({
        data: config(...configBefore("apply-staged")),
        mode: ApplyMode.STAGED,
      })
    ).messages[0];
    assert.equal(reply?.mode, ApplyMode.STAGED);
    assert.equal(reply?.version, 0n);
    assert.equal(await version(), v);
    assert.equal((await sh("hostname")).trim(), "apply-kept");
    await a.machine.reboot({});
    await eventually(
      "the staged config after the restart",
      async () =>
        (await sh("hostname")).trim() === "apply-staged" && (await version()) === v + 1 ? true : undefined,
      20_000,
    );
    const [latest] = (await a.machine.configHistory({ limit: 1 })).messages[0]?.entries ?? [];
    assert.equal(latest?.mode, ApplyMode.STAGED);
    assert.match(latest?.note ?? "", /^staged at .*; in effect from this start of the agent$/);
  });

  it("auto applies a change that needs a restart and restarts the agent", async () => {
    const pid = async () =>
      (await a.resources.get({ type: "ServiceStatus", id: "svc-a" })).messages[0]?.resource?.spec;
    const specText = (s: Uint8Array | undefined) =>
      JSON.parse(new TextDecoder().decode(s)) as { pid?: number };
    const pidBefore = specText(await eventually("svc-a", pid)).pid;
    const [mc, ...rest] = structuredClone(a.baseDocuments) as Record<string, unknown>[];
    const reply = (
      await a.machine.applyConfiguration({
        data: new TextEncoder().encode(
          yamlOf(
            { ...mc, install: { dir: "/var/lib/plinth/slots" } },
            ...rest,
            ...configBefore("apply-staged"),
          ),
        ),
        mode: ApplyMode.AUTO,
      })
    ).messages[0];
    assert.equal(reply?.mode, ApplyMode.REBOOT);
    assert.deepEqual(reply?.restartFields, ["MachineConfig.install.dir"]);
    assert.match(reply?.modeDetails ?? "", /the agent restarts for MachineConfig\.install\.dir$/);
    await eventually(
      "svc-a started again by the restarted agent",
      async () => {
        const now = specText(await pid()).pid;
        return now !== undefined && now !== pidBefore ? now : undefined;
      },
      20_000,
    );
    assert.match(a.output(), /restarting the agent and its services/);
  });

  it("stops its services with it and leaves the machine running the tests unchanged", async () => {
    await a.stop();
    stopped = true;
    assert.deepEqual(await snapshotMachine(watch), machine);
    const leftover = (() => {
      try {
        return execFileSync("pgrep", ["-f", "^/bin/sleep 61[34]$"], { encoding: "utf8" });
      } catch {
        return "";
      }
    })();
    assert.equal(leftover, "");
  });
});
