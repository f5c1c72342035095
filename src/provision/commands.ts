import { execFile } from "node:child_process";
import { PlinthError } from "../errors/plinth-error.ts";

/** Runs a command (with `input` on its stdin); a non-zero exit fails with the command line and what it printed. */
export function sh(
  command: string,
  args: readonly string[],
  options: { allowFail?: boolean; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && !options.allowFail) {
        reject(
          new PlinthError(
            "internal",
            `${command} ${args.join(" ")} failed: ${stderr.trim() || err.message}`,
            {
              cause: err,
            },
          ),
        );
      } else resolve(stdout);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
