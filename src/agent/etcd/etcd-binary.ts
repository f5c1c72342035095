import { access, constants } from "node:fs/promises";
import { findBinary } from "../../doctor/doctor.ts";

/**
 * The etcd program: from PATH, else Debian's /usr/bin/etcd (etcd-server), else plain `etcd`, so
 * that the service reports "command not found: etcd" (`plinth doctor --install` fixes it).
 */
export async function findEtcdBinary(): Promise<string> {
  const found = await findBinary("etcd");
  if (found) return found;
  try {
    await access("/usr/bin/etcd", constants.X_OK);
    return "/usr/bin/etcd";
  } catch {
    return "etcd";
  }
}
