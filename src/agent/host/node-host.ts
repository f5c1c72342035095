import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PlinthError } from "../../errors/plinth-error.ts";
import type { Host, RunOptions, RunResult } from "./host.ts";

export interface NodeHostOptions {
  /** Prefix for every file path; default "/". */
  readonly root?: string;
  /** Where sysctls live; default "/proc/sys". */
  readonly sysctlRoot?: string;
}

const sysctlKey = /^[a-z0-9_-]+([./][a-zA-Z0-9_@:*-]+)+$/;

/** Translates an OS error into a PlinthError in the one place that saw it. */
function osError(action: string, err: unknown): PlinthError {
  if (err instanceof PlinthError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const mapped =
    code === "ENOENT"
      ? "not_found"
      : code === "EACCES" || code === "EPERM" || code === "EROFS"
        ? "permission_denied"
        : code === "EINVAL"
          ? "invalid_argument"
          : "internal";
  // The action names the path; Node's own suffix (", open '/etc/x.plinth-1a2b'") may name a
  // random temp file, which would make the message differ on every attempt.
  const message = (err as Error).message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, "");
  return new PlinthError(mapped, `${action}: ${message}`, { cause: err });
}

/**
 * The path segments of a sysctl key, as sysctl(8) reads it: when the first separator is `/`,
 * segments are split on `/` and dots are part of names (`net/ipv4/conf/eth0.100/forwarding`);
 * otherwise on `.`, with `/` standing for a dot in a name (`net.ipv4.conf.eth0/100.forwarding`).
 */
function sysctlSegments(key: string): string[] {
  const slashForm = key.search(/[./]/) === key.indexOf("/");
  const segments = slashForm ? key.split("/") : key.split(".").map((s) => s.replaceAll("/", "."));
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new PlinthError("invalid_argument", `sysctl key has an empty or relative segment: '${key}'`);
  }
  return segments;
}

export function createNodeHost(options: NodeHostOptions = {}): Host {
  const root = resolve(options.root ?? "/");
  const sysctlRoot = options.sysctlRoot ?? "/proc/sys";

  function under(path: string): string {
    if (!path.startsWith("/")) {
      throw new PlinthError("invalid_argument", `host path must be absolute, current value is '${path}'`);
    }
    const full = resolve(join(root, path));
    if (full !== root && !full.startsWith(root === "/" ? "/" : `${root}/`)) {
      throw new PlinthError("invalid_argument", `host path '${path}' leaves the root ${root}`);
    }
    return full;
  }

  function sysctlPath(key: string): string {
    if (!sysctlKey.test(key)) {
      throw new PlinthError(
        "invalid_argument",
        `sysctl key must look like 'net.ipv4.ip_forward', current value is '${key}'`,
      );
    }
    return join(sysctlRoot, ...sysctlSegments(key));
  }

  async function run(command: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolvePromise, reject) => {
      const child = execFile(
        command,
        [...args],
        { timeout: o.timeoutMs ?? 30_000, signal: o.signal, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
          if (e && typeof e.code === "string") {
            reject(
              e.code === "ENOENT"
                ? new PlinthError("not_found", `command not found: ${command}`, { cause: e })
                : osError(`cannot run ${command}`, e),
            );
            return;
          }
          if (e?.killed) {
            reject(
              new PlinthError("deadline_exceeded", `${command} ${args.join(" ")} timed out`, { cause: e }),
            );
            return;
          }
          resolvePromise({ stdout, stderr, code: e ? Number(e.code ?? 1) : 0 });
        },
      );
      // A program that exits without reading all its input must not take this process down (EPIPE).
      child.stdin?.on("error", () => {});
      if (o.input !== undefined) child.stdin?.end(o.input);
    });
  }

  return {
    async readFile(path) {
      try {
        return await readFile(under(path), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw osError(`cannot read ${path}`, err);
      }
    },
    async writeFileAtomic(path, content, o = {}) {
      const full = under(path);
      const tmp = `${full}.plinth-${randomBytes(4).toString("hex")}`;
      try {
        await mkdir(dirname(full), { recursive: true });
        const fh = await open(tmp, "w", o.mode ?? 0o644);
        try {
          await fh.writeFile(content);
          await fh.sync();
        } finally {
          await fh.close();
        }
        if (o.mode !== undefined) await chmod(tmp, o.mode);
        await rename(tmp, full);
      } catch (err) {
        // Best effort: the temp file may never have been created (a parent is not a directory).
        await rm(tmp, { force: true }).catch(() => {});
        throw osError(`cannot write ${path}`, err);
      }
    },
    async appendFile(path, content, o = {}) {
      const full = under(path);
      try {
        await mkdir(dirname(full), { recursive: true });
        await appendFile(full, content, { mode: o.mode ?? 0o644 });
        if (o.mode !== undefined) await chmod(full, o.mode);
      } catch (err) {
        throw osError(`cannot append to ${path}`, err);
      }
    },
    async removeFile(path) {
      await rm(under(path), { force: true }).catch((err) => {
        throw osError(`cannot remove ${path}`, err);
      });
    },
    async fileMode(path) {
      try {
        return (await stat(under(path))).mode & 0o7777;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw osError(`cannot stat ${path}`, err);
      }
    },
    async readSysctl(key) {
      try {
        return (await readFile(sysctlPath(key), "utf8")).trim();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw osError(`cannot read sysctl ${key}`, err);
      }
    },
    async writeSysctl(key, value) {
      try {
        await writeFile(sysctlPath(key), value);
      } catch (err) {
        throw osError(`cannot set sysctl ${key}=${value}`, err);
      }
    },
    async hostname() {
      return osHostname();
    },
    async setHostname(name) {
      const r = await run("hostname", [name]);
      if (r.code !== 0)
        throw new PlinthError("internal", `cannot set hostname to '${name}': ${r.stderr.trim()}`);
    },
    run,
    async ipJson<T>(args: readonly string[], o?: RunOptions): Promise<T> {
      const r = await run("ip", ["-json", ...args], o);
      if (r.code !== 0) {
        throw new PlinthError(
          "internal",
          `ip ${args.join(" ")} failed: ${r.stderr.trim() || `exit code ${r.code}`}`,
        );
      }
      return (r.stdout.trim() === "" ? [] : JSON.parse(r.stdout)) as T;
    },
  };
}
