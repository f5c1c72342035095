// `npm run generate`: lints proto/ and regenerates src/api/gen from it with buf and protoc-gen-es
// (both pinned in package.json). `--out DIR` writes the tree under DIR instead of the working
// tree, so a test can compare a fresh generation with the committed code.
import { spawnSync } from "node:child_process";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "node_modules", ".bin");
// buf runs protoc-gen-es, a node script: it must find this project's node (the pinned one) first.
const env = { ...process.env, PATH: [bin, dirname(process.execPath), process.env.PATH].join(delimiter) };

function buf(args: string[]): void {
  const result = spawnSync(join(bin, "buf"), args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(
      `generate: 'buf ${args.join(" ")}' failed (exit ${result.status ?? result.signal})\n`,
    );
    process.exit(1);
  }
}

const { values } = parseArgs({ options: { out: { type: "string" } } });
buf(["lint"]);
buf(["generate", ...(values.out ? ["--output", values.out] : [])]);
