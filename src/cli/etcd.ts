import { open, rename, rm } from "node:fs/promises";
import type { Command } from "commander";
import { PlinthError } from "../errors/plinth-error.ts";
import { answered, cleanMessage, describeRemoteError, nodeOf, remote } from "./client/remote-call.ts";
import type { ApiSession } from "./client/session.ts";
import { withSession } from "./client/with-session.ts";
import { renderTable } from "./output/table.ts";

/** Prints warnings the server returned (checks skipped with --force) on stderr, loudly. */
export function printWarnings(node: string, warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`WARNING: ${node}: ${w}\n`);
}

/** The loud line printed before a forced call is sent. */
export function warnForce(what: string): void {
  process.stderr.write(
    `WARNING: --force: ${what} without the etcd quorum check; a control plane going down now can cost etcd its quorum\n`,
  );
}

const prefix = (s: ApiSession, node: string) => (s.nodes.length > 0 ? `${node}: ` : "");

function bytes(n: bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

/** Streams the snapshot into FILE.part and renames it to FILE once complete. */
async function saveSnapshot(s: ApiSession, file: string): Promise<number> {
  if (s.nodes.length > 1) {
    throw new PlinthError(
      "invalid_argument",
      `etcd snapshot: one node at a time, current value of --nodes is ${s.nodes.join(",")}`,
    );
  }
  const part = `${file}.part`;
  const out = await open(part, "w", 0o600);
  let size = 0;
  let ok = false;
  try {
    try {
      for await (const m of s.machine.etcdSnapshot({}, s.callOptions)) {
        if (m.metadata?.error) {
          throw new PlinthError(
            "unavailable",
            `node ${m.metadata.node || "?"}: ${cleanMessage(m.metadata.error)}`,
          );
        }
        await out.write(m.data);
        size += m.data.length;
      }
    } catch (err) {
      throw describeRemoteError(err, s);
    }
    if (size === 0) throw new PlinthError("internal", "etcd snapshot: the node sent no data");
    await out.sync();
    ok = true;
  } finally {
    await out.close();
    if (!ok) await rm(part, { force: true });
  }
  await rename(part, file);
  return size;
}

/** `plinth bootstrap` and `plinth etcd members|status|snapshot|forfeit-leadership|leave|remove-member`. */
export function registerEtcd(program: Command): void {
  program
    .command("bootstrap")
    .description("start the etcd cluster on one control plane (once per cluster; the others join it)")
    .action(async (_flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.bootstrap({}, s.callOptions));
        for (const r of answered(res.messages))
          process.stdout.write(`${prefix(s, nodeOf(r, s))}${r.response}\n`);
      });
    });

  const etcd = program.command("etcd").description("the etcd cluster of the control planes");

  etcd
    .command("members")
    .description("list the etcd members, as the target node's etcd sees them")
    .action(async (_flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.etcdMemberList({}, s.callOptions));
        const showNode = s.nodes.length > 0;
        const rows: string[][] = [];
        for (const r of answered(res.messages)) {
          for (const m of r.members) {
            rows.push([
              ...(showNode ? [nodeOf(r, s)] : []),
              m.id,
              m.name || "(not started)",
              m.peerUrls.join(","),
              m.clientUrls.join(","),
              m.isLeader ? "yes" : "",
              m.isLearner ? "yes" : "",
              m.healthy ? "OK" : "FAIL",
              m.error,
            ]);
          }
        }
        const headers = ["ID", "NAME", "PEER URLS", "CLIENT URLS", "LEADER", "LEARNER", "HEALTH", "ERROR"];
        process.stdout.write(`${renderTable([...(showNode ? ["NODE"] : []), ...headers], rows)}\n`);
      });
    });

  etcd
    .command("status")
    .description("the status of the target nodes' etcd members")
    .action(async (_flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.etcdStatus({}, s.callOptions));
        const rows: string[][] = [];
        for (const r of answered(res.messages)) {
          const m = r.memberStatus;
          if (!m) continue;
          rows.push([
            nodeOf(r, s),
            m.memberId,
            m.leader,
            m.version,
            bytes(m.dbSize),
            bytes(m.dbSizeInUse),
            String(m.raftIndex),
            String(m.raftTerm),
            String(m.raftAppliedIndex),
            m.isLearner ? "yes" : "",
            m.errors.join("; "),
          ]);
        }
        const headers = [
          "NODE",
          "MEMBER",
          "LEADER",
          "VERSION",
          "DB SIZE",
          "IN USE",
          "RAFT INDEX",
          "RAFT TERM",
        ];
        process.stdout.write(`${renderTable([...headers, "APPLIED", "LEARNER", "ERRORS"], rows)}\n`);
      });
    });

  etcd
    .command("snapshot")
    .description("save a snapshot of the etcd database from the target node into FILE")
    .argument("<file>", "where to write the snapshot")
    .action(async (file: string, _flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const size = await saveSnapshot(s, file);
        process.stdout.write(`etcd snapshot saved to ${file} (${size} bytes)\n`);
      });
    });

  etcd
    .command("forfeit-leadership")
    .description("move etcd leadership away from the target node when it leads")
    .action(async (_flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.etcdForfeitLeadership({}, s.callOptions));
        for (const r of answered(res.messages)) {
          const node = nodeOf(r, s);
          process.stdout.write(
            r.member
              ? `${node}: etcd leadership moved to ${r.member}\n`
              : `${node}: not the etcd leader, nothing to do\n`,
          );
        }
      });
    });

  etcd
    .command("leave")
    .description("remove the target node from the etcd cluster, stop its etcd and wipe its etcd data")
    .option("--force", "skip the etcd quorum check (loudly)")
    .action(async (flags: { force?: boolean }, cmd: Command) => {
      if (flags.force) warnForce("leaving the etcd cluster");
      await withSession(cmd, async (s) => {
        const res = await remote(s, () =>
          s.machine.etcdLeaveCluster({ force: !!flags.force }, s.callOptions),
        );
        for (const r of answered(res.messages)) {
          const node = nodeOf(r, s);
          printWarnings(node, r.warnings);
          process.stdout.write(`${node}: left the etcd cluster\n`);
        }
      });
    });

  etcd
    .command("remove-member")
    .description("remove another member (one gone for good) from the etcd cluster")
    .argument("<id>", "the member id, as 'plinth etcd members' shows it")
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const res = await remote(s, () => s.machine.etcdRemoveMember({ memberId: id }, s.callOptions));
        for (const r of answered(res.messages))
          process.stdout.write(`${prefix(s, nodeOf(r, s))}${r.response}\n`);
      });
    });
}
