import type { ClusterStats } from "./cluster-table.ts";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page served on GET /: what this service is, its version, and how much it holds. */
export function landingPage(version: string, stats: ClusterStats): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Plinth discovery service</title></head>
<body>
<h1>Plinth discovery service</h1>
<p>Version ${escapeHtml(version)}.</p>
<p>Nodes of a cluster publish encrypted records about themselves here and watch the records of the
other members, so that they find each other without a central configuration. The service speaks the
gRPC API <code>sidero.discovery.server.Cluster</code>; it stores only ciphertext and never holds the
keys to read it.</p>
<p>Now serving ${stats.clusters} clusters, ${stats.affiliates} affiliates and ${stats.watchers} watchers.</p>
</body>
</html>
`;
}
