import { PlinthError } from "../../errors/plinth-error.ts";

/** The `nodes` request metadata: "a,b,c", or several values; duplicates dropped. */
export const nodesHeader = "nodes";

export function parseNodes(value: string | null): string[] {
  if (!value) return [];
  return [...new Set(value.split(",").map((n) => n.trim()))].filter((n) => n !== "");
}

/** "https://host:port" for a node named "host", "host:port", "[v6]" or "[v6]:port". */
export function nodeUrl(node: string, defaultPort: number): string {
  let url: URL;
  try {
    url = new URL(`https://${node}`);
  } catch {
    url = new URL("https://invalid.invalid/x");
  }
  const plain = url.pathname === "/" && url.username === "" && url.search === "" && url.hash === "";
  if (!plain || node.includes("/") || node.includes("@")) {
    throw new PlinthError(
      "invalid_argument",
      `node '${node}' must be a host name or address with an optional port, like 10.0.0.2 or 10.0.0.2:50000`,
    );
  }
  return `https://${url.hostname}:${url.port || defaultPort}`;
}
