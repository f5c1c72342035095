import type { Controller } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Resource } from "../../../runtime/resource/resource.ts";
import type { Host } from "../../host/host.ts";
import { DriftStatus, FileSpec, FileStatus } from "../../resources/index.ts";
import { canonical } from "../internal/canonical.ts";
import { openDriftLog } from "../internal/drift-log.ts";
import { compact, fingerprint, messageOf } from "../internal/fingerprint.ts";
import { configRevisionInput, type OperatorOptions, requeue } from "../internal/operator-options.ts";
import { sha256Hex } from "../internal/sha256.ts";

export const fileControllerName = "FileController";

type Spec = SpecOf<typeof FileSpec>;
type Status = SpecOf<typeof FileStatus>;

const octal = (mode: number) => `0${mode.toString(8)}`;

/**
 * Writes the files the specs ask for: `create` only when missing, `overwrite` keeping content and
 * mode equal to the spec, `append` keeping the content at the end. Whole files are written
 * atomically (temp file, fsync, rename). When the spec goes away, what Plinth did is undone: a
 * file it created is removed, a file it overwrote gets its earlier content and mode back (kept
 * meanwhile in a backup file), and what it appended is taken off the end, as long as it is still
 * there. One file that cannot be written is an error in its own status only.
 */
export function createFileController(options: OperatorOptions): Controller {
  const { host } = options;
  const backupDir = options.fileBackupDir ?? defaultFileBackupDir;
  return {
    name: fileControllerName,
    inputs: [{ namespace: "runtime", type: FileSpec.type, kind: "weak" }, configRevisionInput],
    outputs: [
      { type: FileStatus.type, kind: "exclusive" },
      { type: DriftStatus.type, kind: "shared" },
    ],
    async reconcile(ctx) {
      const drift = await openDriftLog(ctx, { domain: "file", now: options.now });
      const specs = (await ctx.list(FileSpec.kind())) as Resource<Spec>[];
      const previous = new Map(
        ((await ctx.list(FileStatus.kind())) as Resource<Status>[]).map((r) => [r.metadata.id, r.spec]),
      );
      const wanted = new Set(specs.map((s) => s.metadata.id));
      for (const [id, status] of previous) {
        if (wanted.has(id)) continue;
        await undo(host, status).then(
          (what) => what && ctx.log.info({ path: status.path }, what),
          (err) => ctx.log.warn({ err, path: status.path }, "cannot undo what Plinth did to the file"),
        );
      }

      const out = ctx.track(FileStatus.kind());
      // Items are independent: handled together, their status writes share transactions.
      await Promise.all(
        specs.map(async (s) => {
          const id = s.metadata.id;
          const spec = s.spec;
          const before = previous.get(id);
          const specHash = fingerprint(spec);
          let createdByPlinth = before?.createdByPlinth ?? false;
          let { backup, originalMode, appended } = before ?? {};
          let error: string | undefined;
          try {
            const current = await host.readFile(spec.path);
            const mode = current === undefined ? undefined : await host.fileMode(spec.path);
            const problem = differs(spec, current, mode);
            if (problem) {
              if (before?.specHash === specHash) {
                await drift.detected(id, {
                  item: `file ${spec.path}`,
                  expected: expected(spec),
                  found: problem,
                });
              }
              if (current !== undefined && !createdByPlinth && spec.op === "overwrite" && !backup) {
                const path = `${backupDir}/${id}`;
                await host.writeFileAtomic(path, current, { mode: 0o600 });
                backup = path;
                originalMode = mode;
              }
              if (current === undefined || spec.op === "overwrite") {
                await host.writeFileAtomic(spec.path, spec.content, { mode: spec.mode });
                if (current === undefined) createdByPlinth = true;
              } else {
                await host.appendFile(spec.path, spec.content);
                if (!createdByPlinth) {
                  appended = { length: spec.content.length, sha256: await sha256Hex(spec.content) };
                }
              }
            }
            await drift.inSync(id);
          } catch (err) {
            error = messageOf(err);
            await drift.repairFailed(id, error);
          }
          const observed = await observe(host, spec.path).catch(() => undefined);
          const status: Status = compact({
            path: spec.path,
            op: spec.op,
            exists: observed !== undefined,
            ...observed,
            createdByPlinth,
            backup,
            originalMode,
            appended,
            specHash: error ? undefined : specHash,
            error,
          });
          await out.apply(canonical(FileStatus, id, status));
        }),
      );
      await out.cleanup();
      return requeue(options);
    },
  };
}

export const defaultFileBackupDir = "/var/lib/plinth/file-backups";

/** Undoes what Plinth did to a file whose spec went away; says what it did, if anything. */
async function undo(host: Host, status: Status): Promise<string | undefined> {
  if (status.createdByPlinth) {
    await host.removeFile(status.path);
    return "file removed with its spec";
  }
  if (status.backup) {
    const original = await host.readFile(status.backup);
    if (original === undefined) return `backup ${status.backup} is missing: the file keeps its content`;
    await host.writeFileAtomic(status.path, original, { mode: status.originalMode ?? 0o644 });
    await host.removeFile(status.backup);
    return "file content from before Plinth restored";
  }
  if (status.appended) {
    const current = await host.readFile(status.path);
    const { length, sha256 } = status.appended;
    if (current === undefined || current.length < length) return undefined;
    if ((await sha256Hex(current.slice(current.length - length))) !== sha256) return undefined;
    const mode = await host.fileMode(status.path);
    await host.writeFileAtomic(status.path, current.slice(0, current.length - length), {
      mode: mode ?? 0o644,
    });
    return "appended content removed with its spec";
  }
  return undefined;
}

/** How the file differs from what the spec asks, or undefined when it does not. */
function differs(spec: Spec, current: string | undefined, mode: number | undefined): string | undefined {
  if (current === undefined) return "missing";
  if (spec.op === "append" && !current.endsWith(spec.content)) return "content no longer at the end";
  if (spec.op !== "overwrite") return undefined;
  if (current !== spec.content) return `content changed (${current.length} characters)`;
  if (mode !== spec.mode) return `mode ${octal(mode ?? 0)}`;
  return undefined;
}

function expected(spec: Spec): string {
  if (spec.op === "create") return "present";
  if (spec.op === "append") return "content at the end";
  return `content as configured (${spec.content.length} characters), mode ${octal(spec.mode)}`;
}

async function observe(
  host: Host,
  path: string,
): Promise<{ mode: number; size: number; sha256: string } | undefined> {
  const content = await host.readFile(path);
  const mode = await host.fileMode(path);
  if (content === undefined || mode === undefined) return undefined;
  return { mode, size: new TextEncoder().encode(content).length, sha256: await sha256Hex(content) };
}
