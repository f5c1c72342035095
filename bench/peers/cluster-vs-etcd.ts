// Comparison 2: `plinth cluster create` with 3 control planes and 2 workers until `plinth health`
// passes, against its floor: the same etcd binary started by hand as a static 3-member cluster in 3
// namespaces on one bridge (with the TLS Plinth gives etcd: peer and client certificates, both
// verified), until every member's /health answers true. Both clocks include making the network and
// the namespaces.
import type { ChildProcess } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { generateSecrets } from "../../src/config/generate/generate-secrets.ts";
import { issueCert } from "../../src/pki/index.ts";
import { createClusterHome } from "../../src/testing/cluster-home.ts";
import { findEtcd } from "../../src/testing/etcd-server.ts";
import { createLab } from "./lab.ts";
import type { Comparison } from "./summary.ts";

const timeoutMs = 180_000;

/** `cluster create --timings` phases as rows of the table, under these keys. */
const phaseKeys: Record<string, string> = {
  network: "phaseNetworkMs",
  "nodes launched": "phaseNodesMs",
  "configs applied": "phaseConfigsMs",
  "mTLS ready": "phaseMtlsMs",
  "etcd healthy": "phaseEtcdMs",
};

function parseTimings(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  const section = stdout.slice(stdout.indexOf("\ntimings:\n"));
  for (const m of section.matchAll(/^ {2}(.+?)\s+(\d+) ms$/gm)) {
    const key = phaseKeys[m[1]!];
    if (key) out[key] = Number(m[2]);
  }
  for (const key of Object.values(phaseKeys)) {
    if (out[key] === undefined) throw new Error(`cluster create --timings printed no ${key}:\n${stdout}`);
  }
  return out;
}

async function plinthSide(): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) throw new Error("cluster create needs root");
  const home = await createClusterHome("plinth-bench-peers-cluster-", { timeoutMs });
  const { cli } = home;
  const name = "peers";
  try {
    const t0 = performance.now();
    const created = await home.create(
      { name: name, controlplanes: 3, workers: 2, cidr: "10.244.0.0/24" },
      "--timings",
    );
    if (created.code !== 0) throw new Error(`cluster create failed:\n${created.stdout}${created.stderr}`);
    const createdAt = performance.now();
    const health = await cli("health", "--wait-timeout", "2m");
    if (health.code !== 0)
      throw new Error(`the cluster never became healthy:\n${health.stdout}${health.stderr}`);
    const end = performance.now();
    return {
      plinthClusterCreateMs: end - t0,
      phaseHealthMs: end - createdAt,
      ...parseTimings(created.stdout),
    };
  } finally {
    await cli("cluster", "destroy", "--name", name);
    await rm(home.dir, { recursive: true, force: true });
  }
}

/** Polls every member's /health (client certificate, verified server) until all answer true. */
const healthScript = `
const https = require("node:https");
const fs = require("node:fs");
const [urls, ca, cert, key] = process.argv.slice(1);
const tls = { ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
const healthy = (url) => new Promise((resolve) => {
  const req = https.get(url + "/health", { ...tls, timeout: 1000 }, (res) => {
    let body = "";
    res.on("data", (d) => { body += d; });
    res.on("end", () => {
      try { resolve(res.statusCode === 200 && JSON.parse(body).health === "true"); } catch { resolve(false); }
    });
  });
  req.on("error", () => resolve(false));
  req.on("timeout", () => { req.destroy(); resolve(false); });
});
(async () => {
  for (;;) {
    if ((await Promise.all(JSON.parse(urls).map(healthy))).every(Boolean)) return console.log("healthy");
    await new Promise((r) => setTimeout(r, 20));
  }
})();
`;

async function etcdFloor(): Promise<number> {
  const etcd = await findEtcd();
  const t0 = performance.now();
  const lab = await createLab({ name: "peers-etcd", nodes: 3, subnet: "10.243.0" });
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  try {
    const secrets = await generateSecrets();
    const members = lab.nodes.map((n, i) => ({ ...n, name: `etcd-${i + 1}` }));
    const initialCluster = members.map((m) => `${m.name}=https://${m.ip}:2380`).join(",");
    for (const [i, m] of members.entries()) {
      const pki = join(m.box.dir, "pki");
      await mkdir(pki, { recursive: true });
      const cert = await issueCert({ ca: secrets.certs.etcd, subject: m.name, usage: "peer", sans: [m.ip] });
      await writeFile(join(pki, "ca.crt"), secrets.certs.etcd.crt);
      await writeFile(join(pki, "member.crt"), cert.crt);
      await writeFile(join(pki, "member.key"), cert.key, { mode: 0o600 });
      const child = m.box.spawn(
        etcd,
        [
          `--name=${m.name}`,
          `--data-dir=${join(m.box.dir, "etcd")}`,
          `--listen-client-urls=https://${m.ip}:2379`,
          `--advertise-client-urls=https://${m.ip}:2379`,
          `--listen-peer-urls=https://${m.ip}:2380`,
          `--initial-advertise-peer-urls=https://${m.ip}:2380`,
          `--initial-cluster=${initialCluster}`,
          "--initial-cluster-state=new",
          "--initial-cluster-token=peers-floor",
          `--cert-file=${join(pki, "member.crt")}`,
          `--key-file=${join(pki, "member.key")}`,
          `--trusted-ca-file=${join(pki, "ca.crt")}`,
          "--client-cert-auth=true",
          `--peer-cert-file=${join(pki, "member.crt")}`,
          `--peer-key-file=${join(pki, "member.key")}`,
          `--peer-trusted-ca-file=${join(pki, "ca.crt")}`,
          "--peer-client-cert-auth=true",
          "--logger=zap",
          "--log-outputs=stderr",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      logs[i] = "";
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        logs[i] = (logs[i]! + d).slice(-4000);
      });
      children.push(child);
    }
    const client = await issueCert({ ca: secrets.certs.etcd, subject: "health", usage: "client" });
    const first = members[0]!;
    await writeFile(join(first.box.dir, "pki", "client.crt"), client.crt);
    await writeFile(join(first.box.dir, "pki", "client.key"), client.key, { mode: 0o600 });
    const urls = JSON.stringify(members.map((m) => `https://${m.ip}:2379`));
    const poller = first.box.spawn(
      process.execPath,
      [
        "-e",
        healthScript,
        urls,
        ...["ca.crt", "client.crt", "client.key"].map((f) => join(first.box.dir, "pki", f)),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(poller);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`etcd members not healthy within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      createInterface({ input: poller.stdout! }).once("line", () => {
        clearTimeout(timer);
        resolve();
      });
      for (const [i, c] of children.entries()) {
        c.once("exit", (code) => {
          clearTimeout(timer);
          reject(
            new Error(`${i < members.length ? members[i]!.name : "the health poller"} exited with ${code}`),
          );
        });
      }
    });
    return performance.now() - t0;
  } catch (err) {
    throw new Error(
      `etcd floor: ${(err as Error).message}\n${logs.map((l, i) => `etcd-${i + 1}: ${l}`).join("\n")}`,
    );
  } finally {
    for (const c of children) c.removeAllListeners("exit");
    await lab.destroy();
  }
}

let runs = 0;

export const clusterVsEtcd: Comparison = {
  title: "cluster create vs its floor (a static etcd cluster by hand)",
  figures: [
    {
      key: "plinthClusterCreateMs",
      label: "plinth cluster create 3+2, until plinth health passes",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "etcdFloorMs",
      label: "static 3-member etcd in 3 namespaces, until healthy",
      unit: "ms",
      digits: 0,
      json: true,
    },
    {
      key: "clusterCreateOverFloor",
      label: "Plinth / floor",
      unit: "×",
      digits: 2,
      goal: { value: 3, higherIsBetter: false },
      json: true,
    },
    { key: "phaseNetworkMs", label: "of Plinth's: bridge and network", unit: "ms", digits: 0, json: false },
    {
      key: "phaseNodesMs",
      label: "of Plinth's: 5 namespaces made, agents launched",
      unit: "ms",
      digits: 0,
      json: false,
    },
    {
      key: "phaseConfigsMs",
      label: "of Plinth's: agents answer, configs applied",
      unit: "ms",
      digits: 0,
      json: false,
    },
    { key: "phaseMtlsMs", label: "of Plinth's: every agent serves mTLS", unit: "ms", digits: 0, json: false },
    {
      key: "phaseEtcdMs",
      label: "of Plinth's: etcd bootstrapped, 3 members healthy",
      unit: "ms",
      digits: 0,
      json: false,
    },
    { key: "phaseHealthMs", label: "of Plinth's: plinth health passes", unit: "ms", digits: 0, json: false },
  ],
  notes: [
    "the same etcd binary with the same TLS (peer and client certificates verified) on both sides",
    "where Plinth's time goes: each of its 5 nodes gets a private copy of /etc and /var (seconds on a busy",
    "disk; the floor's 3 namespaces share the machine's); the floor starts all members knowing each other,",
    "Plinth bootstraps one member and the others join as learners one at a time and are promoted",
    "(a cluster whose members come and go must); Plinth also starts 2 workers and checks health",
  ],
  async run() {
    const plinthFirst = runs++ % 2 === 0;
    const floor = plinthFirst ? undefined : await etcdFloor();
    const plinth = await plinthSide();
    const etcdFloorMs = floor ?? (await etcdFloor());
    return {
      ...plinth,
      etcdFloorMs,
      clusterCreateOverFloor: plinth.plinthClusterCreateMs! / etcdFloorMs,
    };
  },
};
