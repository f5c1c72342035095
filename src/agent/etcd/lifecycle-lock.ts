import type { Etcd3 } from "etcd3";
import { PlinthError } from "../../errors/plinth-error.ts";
import { etcdCall } from "./etcd-clients.ts";

/**
 * One control plane at a time may take its etcd member down: it holds this key, on a lease,
 * from the moment its quorum check passed until it is back and healthy (or, for a member that
 * left or was reset, until its action is done). The lease ends a lock whose holder never comes
 * back.
 */
export const lifecycleLockKey = "/plinth/etcd/lifecycle-lock";

/** How long a lock lives when its holder never releases it. */
export const lifecycleLockTtlSeconds = 120;

export interface LockHolder {
  /** etcd member name of the holder. */
  readonly member: string;
  readonly action: string;
  /** The holder's boot: a lock from an earlier boot of the same member is released once it is healthy. */
  readonly bootId: string;
  readonly at: string;
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    return typeof v.member === "string" && typeof v.bootId === "string" ? (v as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock for `holder`, or refuses (failed_precondition) naming who holds it and since
 * when. A holder with the same member name takes it over: the same node asking again.
 */
export async function acquireLifecycleLock(
  client: Etcd3,
  holder: LockHolder,
  options: { ttlSeconds?: number } = {},
): Promise<void> {
  const ttl = options.ttlSeconds ?? lifecycleLockTtlSeconds;
  const lease = client.lease(ttl, { autoKeepAlive: false });
  const leaseId = await etcdCall("grant the lifecycle lock's lease", () => lease.grant());
  lease.release();
  const value = JSON.stringify(holder);
  const put = client.put(lifecycleLockKey).value(value).lease(leaseId);
  const res = await etcdCall("take the cluster-wide lifecycle lock", () =>
    client.if(lifecycleLockKey, "Create", "==", 0).then(put).else(client.get(lifecycleLockKey)).commit(),
  );
  if (res.succeeded) return;
  const kv = res.responses[0]?.response_range.kvs[0];
  const current = kv ? parseHolder(kv.value.toString("utf8")) : undefined;
  if (current?.member === holder.member || !kv) {
    const again = client.put(lifecycleLockKey).value(value).lease(leaseId);
    const retried = await etcdCall("take the cluster-wide lifecycle lock", () =>
      kv
        ? client.if(lifecycleLockKey, "Mod", "==", kv.mod_revision).then(again).commit()
        : client.if(lifecycleLockKey, "Create", "==", 0).then(again).commit(),
    );
    if (retried.succeeded) return;
  }
  throw new PlinthError(
    "failed_precondition",
    current
      ? `another control plane is taking its etcd member down (${current.action}): ${current.member} holds the cluster-wide lock since ${current.at} (it is released when that node is back and healthy, at the latest ${ttl} s after it was taken)`
      : "another control plane holds the cluster-wide lock",
  );
}

/** The current holder, if any. */
export async function readLifecycleLock(client: Etcd3): Promise<LockHolder | undefined> {
  const raw = await etcdCall("read the lifecycle lock", () => client.get(lifecycleLockKey).string());
  return raw === null ? undefined : parseHolder(raw);
}

/** Releases the lock when `member` holds it and `which` (default: any of its locks) agrees. */
export async function releaseLifecycleLock(
  client: Etcd3,
  member: string,
  which: (holder: LockHolder) => boolean = () => true,
): Promise<boolean> {
  const res = await etcdCall("read the lifecycle lock", () => client.get(lifecycleLockKey).exec());
  const kv = res.kvs[0];
  const holder = kv ? parseHolder(kv.value.toString("utf8")) : undefined;
  if (!kv || holder?.member !== member || !which(holder)) return false;
  const del = await etcdCall("release the lifecycle lock", () =>
    client
      .if(lifecycleLockKey, "Mod", "==", kv.mod_revision)
      .then(client.delete().key(lifecycleLockKey))
      .commit(),
  );
  return del.succeeded;
}
