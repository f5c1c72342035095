// Publishes one control-plane affiliate to a discovery service, as another cluster member's agent
// would, so that an agent under test finds a second control plane. Prints "published" once the
// service has the record; removes it and exits when stdin closes.
// Arguments: endpoint clusterId clusterSecret nodeId address
import { createInterface } from "node:readline";
import { pino } from "pino";
import { createDiscoveryClient } from "../../../src/agent/controllers/discovery/discovery-client.ts";
import { localAffiliate } from "../../../src/agent/controllers/discovery/local-affiliate.ts";
import { discoveryKey } from "../../../src/discovery/client/discovery-cipher.ts";

const [endpoint, clusterId, secret, nodeId, address] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const client = createDiscoveryClient({
  endpoint,
  clusterId,
  affiliateId: nodeId,
  key: discoveryKey(secret),
  ttlMs: 60_000,
  clientVersion: "test",
  log: pino({ level: "silent" }),
  backoff: { initialMs: 50, maxMs: 500 },
  onChange() {},
});
const { affiliate, endpoints } = localAffiliate({
  nodeId,
  hostname: nodeId,
  addresses: [address],
  machineType: "controlplane",
  operatingSystem: "Debian",
});
client.setLocal(affiliate, endpoints);
while (!client.status().published) await new Promise((r) => setTimeout(r, 50));
process.stdout.write("published\n");
for await (const _ of createInterface({ input: process.stdin })) {
  // nothing to read: the end of stdin is the signal to leave
}
await client.close({ deleteSelf: true });
process.exit(0);
