import type { KindName } from "../kinds/index.ts";
import type { SemanticCheck } from "./check-context.ts";

/** Kinds that change the machine itself: links, addresses, names, kernel settings, files. */
const hostChangingKinds: readonly KindName[] = [
  "Hostname",
  "Resolvers",
  "StaticHosts",
  "Sysctls",
  "Files",
  "Link",
  "Address",
  "Route",
  "Mesh",
];

/** The directories a local-cluster node has private copies of; elsewhere it would write to the real host. */
export const netnsWritableRoots: readonly string[] = ["/etc", "/var"];

/**
 * - host: the agent owns the machine; no extra rule.
 * - netns: a node of the local cluster, in its own network, UTS and mount namespaces with private
 *   /etc and /var: files only under those, and only the per-namespace `net.*` sysctls.
 * - local: a plain process on the user's own machine, in its namespaces: nothing may change that
 *   machine, so documents of the kinds above are refused.
 */
export const checkMode: SemanticCheck = (ctx) => {
  if (ctx.mode === "local") {
    for (const doc of ctx.documents) {
      if (hostChangingKinds.includes(doc.value.kind)) {
        ctx.report(
          doc,
          ["kind"],
          `not allowed in local mode: a ${doc.value.kind} document would change the machine the agent shares; use --mode netns or host`,
        );
      }
    }
    return;
  }
  if (ctx.mode !== "netns") return;
  for (const doc of ctx.all("Files")) {
    doc.value.files.forEach((file, i) => {
      if (!netnsWritableRoots.some((root) => file.path.startsWith(`${root}/`))) {
        ctx.report(
          doc,
          ["files", i, "path"],
          `not allowed in netns mode: ${file.path} is outside ${netnsWritableRoots.join(" and ")}, the only directories private to the node`,
        );
      }
    });
  }
  for (const doc of ctx.all("Sysctls")) {
    for (const key of Object.keys(doc.value.sysctls)) {
      if (!/^net[./]/.test(key)) {
        ctx.report(
          doc,
          ["sysctls", key],
          "not allowed in netns mode: only net.* sysctls belong to the network namespace; others change the host",
        );
      }
    }
  }
};
