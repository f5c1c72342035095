// Comparison 1: the same change on two fresh, identical sandboxes (network, UTS and mount
// namespaces, private /etc and /var): the hostname, net.ipv4.ip_forward=1 and one file with
// content and mode. Plinth: a running agent gets the config over its API (ApplyConfiguration)
// until all three are observed on the host. Ansible: ansible-playbook with a local connection and
// an equivalent playbook, until it exits (then all three are checked on the host too). Drift: the
// sysctl set back behind both tools' backs; Plinth repairs it by itself, Ansible's --check run
// reports it.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ConnectedHost } from "../../src/agent/host/host-wire.ts";
import { ApplyMode } from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { yamlOf } from "../../src/config/testing/fixtures.ts";
import { findBinary } from "../../src/doctor/doctor.ts";
import { createSandbox, type Sandbox } from "../../src/testing/sandbox.ts";
import { startSandboxedAgent } from "../../src/testing/sandboxed-agent.ts";
import type { Comparison } from "./summary.ts";

const hostname = "converged";
const sysctl = "net.ipv4.ip_forward";
const file = { path: "/etc/plinth-peers.conf", content: "managed\nby a converging tool\n", mode: 0o600 };
const timeoutMs = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the host shows the whole change: running and stored hostname, the sysctl, the file. */
async function converged(host: ConnectedHost): Promise<boolean> {
  const [running, stored, value, content, mode] = await Promise.all([
    host.hostname(),
    host.readFile("/etc/hostname"),
    host.readSysctl(sysctl),
    host.readFile(file.path),
    host.fileMode(file.path),
  ]);
  return (
    running === hostname &&
    stored?.trim() === hostname &&
    value === "1" &&
    content === file.content &&
    mode === file.mode
  );
}

/** Milliseconds from now until `check` holds, polling every 2 ms. */
async function timeUntil(
  what: string,
  check: () => Promise<boolean>,
  t0 = performance.now(),
): Promise<number> {
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await sleep(2);
  }
}

async function plinthSide(): Promise<{ convergeMs: number; driftRepairMs: number }> {
  const a = await startSandboxedAgent({ name: "peers-plinth" });
  let host: ConnectedHost | undefined;
  try {
    host = await a.box.startHost();
    const h = host;
    if (await converged(h)) throw new Error("the Plinth sandbox shows the change before it was applied");
    const documents = [
      ...a.baseDocuments,
      { apiVersion: "v1alpha1", kind: "Hostname", hostname },
      { apiVersion: "v1alpha1", kind: "Sysctls", sysctls: { [sysctl]: "1" } },
      { apiVersion: "v1alpha1", kind: "Files", files: [file] },
    ];
    const t0 = performance.now();
    await a.machine.applyConfiguration({
      data: new TextEncoder().encode(yamlOf(...documents)),
      mode: ApplyMode.AUTO,
    });
    const convergeMs = await timeUntil("the Plinth agent did not converge", () => converged(h), t0);
    // A random phase against the agent's drift checks (every second).
    await sleep(Math.random() * 1000);
    await h.writeSysctl(sysctl, "0");
    const driftRepairMs = await timeUntil(
      "the Plinth agent did not repair the sysctl",
      async () => (await h.readSysctl(sysctl)) === "1",
    );
    return { convergeMs, driftRepairMs };
  } catch (err) {
    throw new Error(`Plinth side: ${(err as Error).message}\n${a.output().slice(-2000)}`);
  } finally {
    host?.close();
    await a.stop();
  }
}

/** The playbook a user would write for a host without systemd (no hostnamectl). */
const playbook = `- hosts: all
  tasks:
    - name: stored hostname
      ansible.builtin.copy:
        dest: /etc/hostname
        content: "${hostname}\\n"
    - name: read the running hostname
      ansible.builtin.command: hostname
      register: running_hostname
      changed_when: false
      check_mode: false
    - name: running hostname
      ansible.builtin.command: hostname -F /etc/hostname
      when: running_hostname.stdout != "${hostname}"
    - name: ${sysctl}
      ansible.posix.sysctl:
        name: ${sysctl}
        value: "1"
        sysctl_set: true
        sysctl_file: /etc/sysctl.d/90-plinth-peers.conf
    - name: the file
      ansible.builtin.copy:
        dest: ${file.path}
        content: ${JSON.stringify(file.content)}
        mode: "0${file.mode.toString(8)}"
`;

async function ansibleSide(): Promise<{ convergeMs: number; driftCheckMs: number }> {
  const box: Sandbox = await createSandbox({ name: "peers-ansible" });
  let host: ConnectedHost | undefined;
  try {
    host = await box.startHost();
    if (await converged(host)) throw new Error("the Ansible sandbox shows the change before it was applied");
    // Ansible's own files (home, temp dirs) stay in the sandbox's directory.
    const home = join(box.dir, "ansible-home");
    await mkdir(home, { recursive: true });
    await writeFile(join(box.dir, "playbook.yml"), playbook);
    const playbookRun = (...extra: string[]) =>
      box.exec(
        "env",
        [
          `HOME=${home}`,
          `ANSIBLE_LOCAL_TEMP=${home}/tmp`,
          `ANSIBLE_REMOTE_TEMP=${home}/tmp`,
          "ANSIBLE_NOCOLOR=1",
          "ansible-playbook",
          "-i",
          "localhost,",
          "-c",
          "local",
          ...extra,
          join(box.dir, "playbook.yml"),
        ],
        { timeoutMs },
      );
    const t0 = performance.now();
    const applied = await playbookRun();
    const convergeMs = performance.now() - t0;
    if (applied.code !== 0)
      throw new Error(`ansible-playbook exited with ${applied.code}:\n${applied.stdout}${applied.stderr}`);
    if (!(await converged(host)))
      throw new Error(`ansible-playbook succeeded but the host does not show the change:\n${applied.stdout}`);
    await host.writeSysctl(sysctl, "0");
    const t1 = performance.now();
    const checked = await playbookRun("--check");
    const driftCheckMs = performance.now() - t1;
    const changed = Number(/changed=(\d+)/.exec(checked.stdout)?.[1] ?? Number.NaN);
    if (checked.code !== 0 || !(changed >= 1)) {
      throw new Error(
        `ansible-playbook --check did not report the drift (exit ${checked.code}):\n${checked.stdout}${checked.stderr}`,
      );
    }
    if ((await host.readSysctl(sysctl)) !== "0")
      throw new Error("ansible-playbook --check changed the sysctl");
    return { convergeMs, driftCheckMs };
  } catch (err) {
    throw new Error(`Ansible side: ${(err as Error).message}`);
  } finally {
    host?.close();
    await box.destroy();
  }
}

let runs = 0;

export const convergeVsAnsible: Comparison = {
  title: "converge vs Ansible (hostname, 1 sysctl, 1 file with mode)",
  figures: [
    {
      key: "plinthConvergeMs",
      label: "Plinth: apply-config → observed on the host",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "ansibleConvergeMs",
      label: "Ansible: ansible-playbook -c local, run to exit",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "convergeSpeedup",
      label: "speedup (Ansible / Plinth)",
      unit: "×",
      digits: 1,
      goal: { value: 10, higherIsBetter: true },
      json: true,
    },
    {
      key: "plinthDriftRepairMs",
      label: "drift: Plinth repairs the sysctl by itself",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "ansibleDriftCheckMs",
      label: "drift: ansible-playbook --check reports it",
      unit: "ms",
      digits: 0,
      json: true,
    },
  ],
  notes: [
    "each side in a fresh, identical sandbox (network + UTS + mount namespaces, private /etc and /var)",
    "Plinth's agent is running before the clock starts; Ansible starts when run, and gathers facts (its default)",
    "Plinth's agent checks for drift every second, so a repair takes up to a second by design",
    "Ansible repairs only when run again: --check only reports the drift, someone must run the playbook",
  ],
  async run() {
    if (!(await findBinary("ansible-playbook"))) {
      throw new Error(
        "ansible-playbook is not installed: run 'npx plinth doctor --install' (package ansible)",
      );
    }
    // Alternate which side goes first, so that neither always meets a warmer machine.
    const plinthFirst = runs++ % 2 === 0;
    const plinth = plinthFirst ? await plinthSide() : undefined;
    const ansible = await ansibleSide();
    const p = plinth ?? (await plinthSide());
    return {
      plinthConvergeMs: p.convergeMs,
      ansibleConvergeMs: ansible.convergeMs,
      convergeSpeedup: ansible.convergeMs / p.convergeMs,
      plinthDriftRepairMs: p.driftRepairMs,
      ansibleDriftCheckMs: ansible.driftCheckMs,
    };
  },
};
