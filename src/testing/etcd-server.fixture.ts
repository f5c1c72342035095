// Run as its own process by etcd-server.test.ts: starts etcd, prints its pid and data dir, then
// either exits at once ("exit") or waits to be killed by a signal ("wait"), never stopping etcd.
import { startEtcd } from "./etcd-server.ts";

const etcd = await startEtcd();
process.stdout.write(`${JSON.stringify({ pid: etcd.pid, dataDir: etcd.dataDir })}\n`);
if (process.argv[2] === "exit") process.exit(0);
setInterval(() => {}, 1000);
