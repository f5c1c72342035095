// A host process: serves the Node host adapter (root "/") on stdin/stdout with `serveHost`.
// Started inside namespaces (a test sandbox) it makes the host effects of controllers running
// elsewhere land in those namespaces, through the same adapter production uses.
import { serveHost } from "./host-wire.ts";
import { createNodeHost } from "./node-host.ts";

await serveHost(createNodeHost(), { input: process.stdin, output: process.stdout });
